/** Every example job, as one Definitions: what `worker.ts` and the CLI serve by default. */
import { Definitions } from 'opgraph';
import { dynamicGraph } from './dynamic-graph.ts';

export const defs = new Definitions({ jobs: [dynamicGraph] });
export default defs;
