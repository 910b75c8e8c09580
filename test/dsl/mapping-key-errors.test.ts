import { describe, expect, it } from 'vitest';
import { mappingKeyProblem } from '../../src/dsl/keys.ts';
import { DynamicOutput } from '../../src/dsl/outputs.ts';

describe('a mapping key that is not a string names the value it got', () => {
  const problem = (key: unknown) => mappingKeyProblem(new DynamicOutput(1, key as string).mappingKey);
  it('new DynamicOutput(1, 3) keeps 3 as the key, and the error says what to pass', () => {
    expect(problem(3)).toBe("mapping key must be a string, got the number 3: pass a string, e.g. '3' (String(key))");
    expect(problem(true)).toBe("mapping key must be a string, got the boolean true: pass a string, e.g. 'true' (String(key))");
    expect(problem(null)).toBe('mapping key must be a string, got null: pass a string naming the item (letters, digits, underscore)');
    expect(problem([1, 2])).toBe(
      'mapping key must be a string, got an array [1,2]: pass a string naming the item (letters, digits, underscore)',
    );
  });
  it('an options object without a key, or an object as key', () => {
    expect(mappingKeyProblem(new DynamicOutput(1, {} as never).mappingKey)).toBe(
      "mapping key is missing (got undefined): pass one, new DynamicOutput(value, '7') or new DynamicOutput(value, { mappingKey: '7' })",
    );
    expect(mappingKeyProblem(new DynamicOutput(1, { mappingKey: { id: 3 } as never }).mappingKey)).toBe(
      'mapping key must be a string, got an object {"id":3}: pass a string naming the item (letters, digits, underscore)',
    );
  });
});
