/** Every example job, as one Definitions: what `worker.ts` and the CLI serve by default. */
import { Definitions } from 'opgraph';
import { dynamicGraph } from './dynamic-graph.ts';
import { dynamicFanoutOptionA, dynamicFanoutOptionB, dynamicFanoutOptionC } from './fanout.ts';
import { chained, chainedAlt, multiple, otherArg, returnDynamicJob } from './guide-advanced.ts';
import { dynamicOutputs, pythonParallelism } from './letters.ts';
import { processDirectory } from './process-directory.ts';
import { diskUsage } from './disk-usage.ts';

export const defs = new Definitions({
  jobs: [
    dynamicGraph,
    returnDynamicJob,
    chained,
    chainedAlt,
    otherArg,
    multiple,
    processDirectory,
    diskUsage,
    dynamicOutputs,
    pythonParallelism,
    dynamicFanoutOptionA,
    dynamicFanoutOptionB,
    dynamicFanoutOptionC,
  ],
});
export default defs;
