import { Piscina } from 'piscina';
import { ChittyError, resourceExhausted } from '../errors.js';
import { status } from '@grpc/grpc-js';
import { ID_LENGTH, type MintTask } from './mint-task.js';
import { workerFile } from './worker-file.js';

/** The Piscina pool that does the CPU part of minting, one task per group of requests. */
export interface MintPool {
  /** Mints the IDs of a task; rejects with RESOURCE_EXHAUSTED when the queue is full. */
  mint(task: MintTask): Promise<string[]>;
  readonly threads: number;
  readonly queueSize: number;
  readonly utilization: number;
  readonly running: boolean;
  close(): Promise<void>;
}

export interface MintPoolOptions {
  readonly size: number;
  readonly maxQueue: number;
  readonly ff1Key: Buffer;
}

export function createMintPool(options: MintPoolOptions): MintPool {
  const piscina = new Piscina({
    filename: workerFile('mint.worker'),
    minThreads: options.size,
    maxThreads: options.size,
    maxQueue: options.maxQueue,
    idleTimeout: Number.POSITIVE_INFINITY,
    workerData: { ff1KeyHex: options.ff1Key.toString('hex') },
  });
  let running = true;

  return {
    async mint(task: MintTask): Promise<string[]> {
      if (!running) throw new ChittyError(status.UNAVAILABLE, 'server is shutting down');
      let joined: string;
      try {
        joined = (await piscina.run(task)) as string;
      } catch (err) {
        if (err instanceof Error && err.message === 'Task queue is at limit') {
          throw resourceExhausted('worker queue is full, retry later');
        }
        throw err;
      }
      const ids: string[] = new Array(task.total);
      for (let i = 0; i < task.total; i++) ids[i] = joined.slice(i * ID_LENGTH, (i + 1) * ID_LENGTH);
      return ids;
    },
    get threads() { return piscina.threads.length; },
    get queueSize() { return piscina.queueSize; },
    get utilization() { return piscina.utilization; },
    get running() { return running; },
    async close() {
      running = false;
      await piscina.close();
    },
  };
}
