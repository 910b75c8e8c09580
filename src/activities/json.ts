/** The JSON check lives in src/dsl (run config uses it too); the op runner imports it from here. */
export { jsonProblem } from '../dsl/json.ts';
