/** The generator service as the system starts and reaches it; by default over gRPC. */
import type { DatasetGenerator } from '../api/deps.js';
import type { Pool } from '../db/pool.js';
import { GeneratorClient } from '../generator/client.js';
import { startGeneratorServer } from '../generator/server.js';

/** A running generator service. */
export interface GeneratorService {
  readonly port: number;
  close(): Promise<void>;
}

/** How the system starts the generator service and reaches it. */
export interface GeneratorParts {
  /** Starts the gRPC generator service. */
  start(args: { pool: Pool; port: number; host: string; owner: string }): Promise<GeneratorService>;
  /** A client of the service at `address` (`host:port`). */
  connect(address: string): DatasetGenerator & { close?(): void };
}

/** Starts the gRPC generator service in this process and talks to it with its client. */
export const grpcGenerator: GeneratorParts = {
  start: ({ pool, port, host, owner }) => startGeneratorServer({ pool, port, host, owner }),
  connect: (address) => new GeneratorClient(address),
};
