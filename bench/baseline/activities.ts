export async function trivial(i: number): Promise<number> {
  return i + 1;
}
