// A browser app's module: type-checked against the installed package's declarations.
import { createPortcullisClient, type PortcullisClient, PortcullisClientError } from "portcullis/client";
import { type AxiosInstanceLike, attachToAxios } from "portcullis/client/axios";

const client: PortcullisClient = createPortcullisClient({ onSessionEnded: (reason) => console.log(reason) });

export async function showMe(): Promise<string> {
  try {
    if (!(await client.resume())) await client.login("alice", "wonderland");
    return await (await client.fetch("/api/me")).text();
  } catch (error) {
    if (error instanceof PortcullisClientError) return error.code;
    throw error;
  }
}

export function useWith(axios: AxiosInstanceLike): () => void {
  return attachToAxios(axios, client);
}
