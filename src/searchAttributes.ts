import type { Client } from '@temporalio/client';
import { SEARCH_ATTRIBUTES } from './dsl/constants.ts';

/** What to register on a dev server (`--search-attribute Name=Keyword`). */
export const OPGRAPH_SEARCH_ATTRIBUTES: Record<string, 'Keyword'> = Object.fromEntries(
  Object.values(SEARCH_ATTRIBUTES).map((name) => [name, 'Keyword']),
);

/** The attributes every run sets; the rest (the parent of a re-execution) are set where registered. */
const CORE = [SEARCH_ATTRIBUTES.job, SEARCH_ATTRIBUTES.runId, SEARCH_ATTRIBUTES.stepKey, SEARCH_ATTRIBUTES.mappingKey];

const registered = new WeakMap<Client, Promise<Set<string>>>();

/** The namespace's custom search attributes (listed once per client; none when listing is not allowed). */
function registeredAttributes(client: Client): Promise<Set<string>> {
  let answer = registered.get(client);
  if (!answer) {
    answer = client.connection.operatorService
      .listSearchAttributes({ namespace: client.options.namespace })
      .then((response) => new Set(Object.keys(response.customAttributes ?? {})))
      .catch(() => new Set<string>()); // no permission to list (e.g. some Cloud keys): run without them
    registered.set(client, answer);
  }
  return answer;
}

/** Whether the client's namespace has opgraph's search attributes (checked once per client). */
export async function hasOpgraphSearchAttributes(client: Client): Promise<boolean> {
  const names = await registeredAttributes(client);
  return CORE.every((name) => names.has(name));
}

/** Whether re-executions can name their parent in a search attribute (servers set up before it existed lack it). */
export async function hasParentRunAttribute(client: Client): Promise<boolean> {
  return (await registeredAttributes(client)).has(SEARCH_ATTRIBUTES.parentRun);
}
