import type { Client } from '@temporalio/client';
import { SEARCH_ATTRIBUTES } from './dsl/constants.ts';

/** What to register on a dev server (`--search-attribute Name=Keyword`). */
export const OPGRAPH_SEARCH_ATTRIBUTES: Record<string, 'Keyword'> = Object.fromEntries(
  Object.values(SEARCH_ATTRIBUTES).map((name) => [name, 'Keyword']),
);

const known = new WeakMap<Client, Promise<boolean>>();

/** Whether the client's namespace has opgraph's search attributes (checked once per client). */
export function hasOpgraphSearchAttributes(client: Client): Promise<boolean> {
  let answer = known.get(client);
  if (!answer) {
    answer = client.connection.operatorService
      .listSearchAttributes({ namespace: client.options.namespace })
      .then((response) => Object.values(SEARCH_ATTRIBUTES).every((name) => name in (response.customAttributes ?? {})))
      .catch(() => false); // no permission to list (e.g. some Cloud keys): run without them
    known.set(client, answer);
  }
  return answer;
}
