/**
 * The states a node of a run's graph is drawn in (`opgraph graph --run`, `opgraph view`), their
 * colours, and the per-node decoration the renderers take. `waiting`: a step parked after its
 * retries, for a redrive.
 */
export const NODE_STATES = [
  'pending',
  'running',
  'retrying',
  'waiting',
  'succeeded',
  'failed',
  'skipped',
  'abandoned',
  'cancelled',
] as const;
export type NodeState = (typeof NODE_STATES)[number];

/** Fill and stroke per state (the legend of the run page uses the same). */
export const STATE_COLOURS: Record<NodeState, { fill: string; stroke: string }> = {
  pending: { fill: '#ffffff', stroke: '#90a4ae' },
  running: { fill: '#bbdefb', stroke: '#1565c0' },
  retrying: { fill: '#ffe0b2', stroke: '#ef6c00' },
  waiting: { fill: '#fff59d', stroke: '#f9a825' },
  succeeded: { fill: '#c8e6c9', stroke: '#2e7d32' },
  failed: { fill: '#ffcdd2', stroke: '#c62828' },
  skipped: { fill: '#eeeeee', stroke: '#9e9e9e' },
  abandoned: { fill: '#d7ccc8', stroke: '#6d4c41' },
  cancelled: { fill: '#e0e0e0', stroke: '#424242' },
};

/** What a run adds to a node: its state and, for a mapped node, how many of its steps are in each state. */
export interface NodeDecoration {
  state: NodeState;
  counts: Partial<Record<NodeState, number>>;
  mapped: boolean;
}

export type GraphDecorations = Readonly<Record<string, NodeDecoration>>;

/** `3 succeeded, 1 failed, 2 running` (states in NODE_STATES order, zeros left out). */
export function countsLine(counts: Partial<Record<NodeState, number>>): string {
  return NODE_STATES.flatMap((s) => (counts[s] ? [`${counts[s]} ${s}`] : [])).join(', ');
}

/** The line a decoration adds under a node's label. */
export function decorationLine(decoration: NodeDecoration): string {
  if (!decoration.mapped) return decoration.state;
  const counts = countsLine(decoration.counts);
  return counts ? `${decoration.state}: ${counts}` : decoration.state;
}
