/** The generator service over gRPC, as the system starts and reaches it by default. */
import { GeneratorClient } from '../generator/client.js';
import { startGeneratorServer } from '../generator/server.js';
import type { GeneratorParts } from './system.js';

/** Starts the gRPC generator service in this process and talks to it with its client. */
export const grpcGenerator: GeneratorParts = {
  start: ({ pool, port, host, owner }) => startGeneratorServer({ pool, port, host, owner }),
  connect: (address) => new GeneratorClient(address),
};
