import { describe, expect, it } from 'vitest';
import { frameText, userFrame } from '../../src/activities/userFrame.ts';

describe('userFrame: the top frame of user code in a stack', () => {
  const cwd = '/home/me/project';
  it("skips opgraph's own, Node's and dependencies' frames; paths inside the working directory are relative", () => {
    const stack = [
      'RangeError: x must be below 10',
      '    at check (/home/me/project/node_modules/lib/index.js:3:11)',
      '    at node:internal/process/task_queues:95:5',
      '    at Object.fn (file:///home/me/project/mine/throws.ts:13:30)',
      '    at runOp (/home/me/project/src/ops.ts:1:1)',
    ].join('\n');
    const frame = userFrame(stack, cwd);
    expect(frame).toEqual({ file: 'mine/throws.ts', line: 13, column: 30 });
    expect(frame && frameText(frame)).toBe('mine/throws.ts:13:30');
  });

  it('keeps an absolute path outside the working directory; a message line that looks like a frame is not one', () => {
    const stack = ['Error: see at /x/y.ts:1:2 for details', '    at async /srv/jobs/etl.ts:7:3'].join('\n');
    expect(userFrame(stack, cwd)).toEqual({ file: '/srv/jobs/etl.ts', line: 7, column: 3 });
  });

  it("undefined without a stack, or with only library frames (opgraph's src/ included)", () => {
    expect(userFrame(undefined, cwd)).toBeUndefined();
    const own = new URL('../../src/activities/runOp.ts', import.meta.url).pathname;
    expect(userFrame(`Error: x\n    at runOp (${own}:42:34)\n    at node:internal/x:1:1`, cwd)).toBeUndefined();
  });
});
