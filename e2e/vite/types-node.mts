// types-node.mts is type-checked with Node's own resolution (NodeNext) by
// tsconfig.node.json: the package's "exports" give TypeScript its types
// under Node's rules too, not only a bundler's.
import { backoffDelay, connect, validEventName, type Client } from "@rushws/client";

interface FromServer {
  welcome(data: { id: string }): void;
}
interface ToServer {
  echo(data: string): string;
}

export function check(c: Client<FromServer, ToServer>): Promise<string> {
  const delay: number = backoffDelay(1, 100, 1000);
  const ok: boolean = validEventName("echo");
  // @ts-expect-error: "echo" takes a string.
  c.emit("echo", delay);
  return ok ? c.emitWithAck("echo", "hi") : Promise.resolve("");
}

export const open = (url: string): Client<FromServer, ToServer> => connect<FromServer, ToServer>(url);
