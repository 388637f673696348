/** Binding the local stack's servers: loopback only, with an error that names the setting to change. */
import type { Server } from "node:http";
import type { AddressInfo } from "node:net";

/**
 * Listens on 127.0.0.1:`port` (0 = a free port) and resolves with the bound port. A port already in use becomes an
 * error naming `setting`, the environment variable that moves it.
 */
export function listenOnLoopback(server: Server, port: number, setting: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const onError = (error: NodeJS.ErrnoException) => {
      server.off("listening", onListening);
      if (error.code === "EADDRINUSE") {
        reject(
          new Error(`Port ${port} is already in use; stop what uses it or set ${setting} to a free port`, {
            cause: error,
          }),
        );
      } else {
        reject(error);
      }
    };
    const onListening = () => {
      server.off("error", onError);
      resolve((server.address() as AddressInfo).port);
    };
    server.once("error", onError);
    server.once("listening", onListening);
    server.listen(port, "127.0.0.1");
  });
}
