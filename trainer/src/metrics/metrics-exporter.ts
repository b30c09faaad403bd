// `--metrics-listen` for the trainer: a registry with the trainer's metrics and the default process
// metrics, served over HTTP; tfjs memory is read from the engine on each scrape.
import * as tf from '@tensorflow/tfjs-core';
import { Registry, collectDefaultMetrics } from 'prom-client';
import type { BackendInfo } from '../train/trial-result.ts';
import { serveMetrics } from './metrics-server.ts';
import type { MetricsServer } from './metrics-server.ts';
import { createTrainerMetrics } from './trainer-metrics.ts';
import type { TrainerMetrics } from './trainer-metrics.ts';

export interface TrainerExporter {
  readonly metrics: TrainerMetrics;
  readonly server: MetricsServer;
  close(): Promise<void>;
}

export async function startTrainerExporter(options: {
  listen: string;
  backend: BackendInfo;
  nats?: () => { published: number; dropped: number };
}): Promise<TrainerExporter> {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const metrics = createTrainerMetrics(registry, {
    backend: options.backend,
    memory: () => tf.memory(),
    ...(options.nats ? { nats: options.nats } : {}),
  });
  let server: MetricsServer;
  try {
    server = await serveMetrics(registry, options.listen);
  } catch (error) {
    throw new Error(`--metrics-listen ${options.listen}: ${(error as Error).message}`, { cause: error });
  }
  return { metrics, server, close: () => server.close() };
}
