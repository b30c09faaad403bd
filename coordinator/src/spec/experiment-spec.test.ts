import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ConfigError, resolveTrialConfig } from '../../../trainer/src/config/trial-config.ts';
import { expandExperiment, newExperimentId, parseExperimentSpec, parseExperimentSpecText } from './experiment-spec.ts';

const base = { model: 'builtin:tiny', task: { name: 'rte' } };

function errorAt(input: unknown): { path: string; reason: string } {
  try {
    parseExperimentSpec(input, 'spec.yaml');
  } catch (error) {
    assert.ok(error instanceof ConfigError, String(error));
    return { path: error.path, reason: error.reason };
  }
  assert.fail('expected a ConfigError');
}

describe('parseExperimentSpec', () => {
  it('applies defaults', () => {
    const spec = parseExperimentSpec({ name: 'x', base });
    assert.equal(spec.max_attempts, 3);
    assert.equal(spec.sweep_mode, 'grid');
    assert.deepEqual(spec.seeds, { kind: 'base' });
    assert.equal(spec.parallelism, undefined);
  });

  it('names the path of every mistake', () => {
    assert.deepEqual(errorAt({ base }).path, 'name');
    assert.deepEqual(errorAt({ name: 'x', base, sweeps: {} }), { path: 'sweeps', reason: 'unknown key' });
    assert.equal(errorAt({ name: 'x', base, sweep: { optimizer: ['adamw', 'sgd'] } }).path, 'sweep.optimizer[1]');
    assert.equal(errorAt({ name: 'x', base, sweep: { optimizer: [] } }).path, 'sweep.optimizer');
    assert.deepEqual(errorAt({ name: 'x', base, sweep: { optimzer: ['adamw'] } }), { path: 'sweep.optimzer[0]', reason: 'unknown trial key' });
    assert.equal(errorAt({ name: 'x', base, sweep: { 'task.downsample': [100, -1] } }).path, 'sweep.task.downsample[1]');
    assert.equal(errorAt({ name: 'x', base: { model: 'm', task: { format: 'tsv', train: 't.tsv', text_column: 'a', labels: ['0', '1'] } } }).path, 'base.task.label_column');
    assert.equal(errorAt({ name: 'x', base: { ...base, batch_size: 0 } }).path, 'base.batch_size');
    assert.equal(errorAt({ name: 'x', base, seeds: 0 }).path, 'seeds');
    assert.equal(errorAt({ name: 'x', base, seeds: [1, 2, 1] }).path, 'seeds[2]');
    assert.equal(errorAt({ name: 'x', base, seeds: 3, init_seeds: 2, data_seeds: 2 }).path, 'init_seeds');
    assert.equal(errorAt({ name: 'x', base, init_seeds: 2 }).path, 'data_seeds');
    assert.equal(errorAt({ name: 'x', base: { ...base, init_seed: 4 }, init_seeds: 2, data_seeds: 2 }).path, 'base.init_seed');
    assert.equal(errorAt({ name: 'x', base, sweep: { seed: [1, 2] } }).path, 'sweep.seed');
    assert.equal(errorAt({ name: 'x', base, sweep: { reinit_layers: [0, 0] } }).path, 'sweep.reinit_layers[1]');
    assert.equal(errorAt({ name: 'x', base, sweep: { task: [{ name: 'rte' }], 'task.name': ['rte'] } }).path, 'sweep.task.name');
    assert.equal(errorAt({ name: 'x', base, max_attempts: 0 }).path, 'max_attempts');
    assert.equal(errorAt({ name: 'x', base, parallelism: 1.5 }).path, 'parallelism');
    assert.equal(errorAt({ name: 'x', base, sweep: { a: [1] }, sweep_mode: 'cartesian' }).path, 'sweep_mode');
  });

  it('zip needs equal lengths', () => {
    const error = errorAt({ name: 'x', base, sweep_mode: 'zip', sweep: { optimizer: ['adamw', 'bertadam'], reinit_layers: [0] } });
    assert.equal(error.path, 'sweep.reinit_layers');
    assert.match(error.reason, /one length/);
  });

  it('blames the base for errors that only some sweep points trigger, naming the configuration', () => {
    const error = errorAt({ name: 'x', base: { ...base, dropout: 0.1 }, sweep: { mixout: [0, 0.7] } });
    assert.equal(error.path, 'base.dropout');
    assert.match(error.reason, /mixout=0\.7/);
  });

  it('lets the sweep supply a key the base lacks', () => {
    const spec = parseExperimentSpec({ name: 'x', base: { task: { name: 'rte' } }, sweep: { model: ['a', 'b'] } });
    assert.deepEqual(expandExperiment(spec).map((t) => t.config.model), ['a', 'b']);
  });

  it('refuses grids that expand past the limit', () => {
    const values = Array.from({ length: 1000 }, (_, i) => i + 1);
    assert.equal(errorAt({ name: 'x', base, sweep: { batch_size: values, num_evals: values } }).path, 'sweep');
  });

  it('names the line of YAML syntax errors', () => {
    assert.throws(() => parseExperimentSpecText('name: x\nbase: [1, 2\n', 'spec.yaml'), (error: unknown) => {
      assert.ok(error instanceof ConfigError);
      assert.match(error.message, /^spec\.yaml: .*line \d+/);
      return true;
    });
    const spec = parseExperimentSpecText('name: x\nbase:\n  model: m\n  task: {name: rte}\nseeds: 2\n');
    assert.equal(expandExperiment(spec).length, 2);
  });
});

describe('expandExperiment', () => {
  it("gives every trial the seeds resolveTrialConfig gives its full config", () => {
    const specs = [
      { name: 'n', base, seeds: [3, 4] },
      { name: 'b', base: { ...base, seed: 7, init_seed: 11, dropout_seed: 5 } },
      { name: 'l', base: { ...base, init_seed: 11 }, seeds: 2 },
      { name: 'f', base: { ...base, dropout_seed: 9 }, init_seeds: 2, data_seeds: [10, 20] },
    ];
    for (const input of specs) {
      for (const trial of expandExperiment(parseExperimentSpec(input))) {
        assert.deepEqual(trial.seeds, resolveTrialConfig(trial.config).seeds, `${input.name} ${trial.id}`);
      }
    }
  });

  it('expands a full grid, seed-major, with stable ids and labels', () => {
    const spec = parseExperimentSpec({
      name: 'paper',
      base,
      sweep: { optimizer: ['adamw', 'bertadam'], reinit_layers: [0, 5] },
      seeds: 2,
    });
    const trials = expandExperiment(spec);
    assert.equal(trials.length, 8);
    assert.deepEqual(
      trials.map((t) => t.id),
      ['c0-s1', 'c1-s1', 'c2-s1', 'c3-s1', 'c0-s2', 'c1-s2', 'c2-s2', 'c3-s2'],
    );
    assert.deepEqual(
      trials.slice(0, 4).map((t) => t.configuration),
      ['optimizer=adamw,reinit_layers=0', 'optimizer=adamw,reinit_layers=5', 'optimizer=bertadam,reinit_layers=0', 'optimizer=bertadam,reinit_layers=5'],
    );
    const t = trials[3]!;
    assert.deepEqual(t.sweep_values, { optimizer: 'bertadam', reinit_layers: 5 });
    assert.equal(t.config.optimizer, 'bertadam');
    assert.equal(t.config.reinit_layers, 5);
    assert.equal(t.config.batch_size, 32, 'defaults applied');
    assert.equal(t.config.seed, 1);
    assert.deepEqual(expandExperiment(spec), trials, 'deterministic');
    for (const trial of trials) assert.match(trial.id, /^[A-Za-z0-9_-]+$/);
  });

  it('zips axes', () => {
    const spec = parseExperimentSpec({ name: 'z', base, sweep_mode: 'zip', sweep: { optimizer: ['adamw', 'bertadam'], reinit_layers: [5, 0] } });
    const trials = expandExperiment(spec);
    assert.deepEqual(trials.map((t) => t.configuration), ['optimizer=adamw,reinit_layers=5', 'optimizer=bertadam,reinit_layers=0']);
    assert.deepEqual(trials.map((t) => t.id), ['c0-s0', 'c1-s0']);
  });

  it('sets nested keys from dotted sweep keys without touching the base', () => {
    const input = { name: 'n', base: { ...base, task: { name: 'rte', split: 'dev_halves' } }, sweep: { 'task.downsample': [100, 1000] } };
    const trials = expandExperiment(parseExperimentSpec(input));
    assert.deepEqual(trials.map((t) => t.config.task.downsample), [100, 1000]);
    assert.equal(trials[0]!.config.task.split, 'dev_halves');
    assert.equal(trials[0]!.configuration, 'task.downsample=100');
    assert.equal((input.base.task as Record<string, unknown>).downsample, undefined);
  });

  it('uses the base seed without a seeds key, and the label `base` without a sweep', () => {
    const trials = expandExperiment(parseExperimentSpec({ name: 'b', base: { ...base, seed: 42 } }));
    assert.equal(trials.length, 1);
    assert.equal(trials[0]!.id, 'c0-s42');
    assert.equal(trials[0]!.configuration, 'base');
    assert.deepEqual(trials[0]!.sweep_values, {});
  });

  it('takes an explicit seed list', () => {
    const trials = expandExperiment(parseExperimentSpec({ name: 's', base, seeds: [13, 7] }));
    assert.deepEqual(trials.map((t) => [t.id, t.config.seed, t.seeds.seed]), [['c0-s13', 13, 13], ['c0-s7', 7, 7]]);
    assert.notEqual(trials[0]!.seeds.init_seed, trials[1]!.seeds.init_seed);
  });

  it('crosses init seeds with data seeds (Dodge et al.)', () => {
    const trials = expandExperiment(parseExperimentSpec({ name: 'f', base, init_seeds: 2, data_seeds: [10, 20, 30] }));
    assert.equal(trials.length, 6);
    assert.deepEqual(trials.map((t) => t.id), ['c0-s1x10', 'c0-s1x20', 'c0-s1x30', 'c0-s2x10', 'c0-s2x20', 'c0-s2x30']);
    for (const t of trials) {
      const [init, data] = t.id.slice(4).split('x').map(Number);
      assert.equal(t.config.init_seed, init);
      assert.equal(t.config.data_seed, data);
      assert.equal(t.seeds.init_seed, init);
      assert.equal(t.seeds.data_seed, data);
    }
  });
});

describe('newExperimentId', () => {
  it('is a NATS-safe slug with a random suffix', () => {
    const a = newExperimentId('Paper: RTE / re-init (L=5)!');
    assert.match(a, /^paper-rte-re-init-l-5-[0-9a-f]{8}$/);
    assert.notEqual(newExperimentId('x'), newExperimentId('x'));
    assert.match(newExperimentId('!!!'), /^experiment-[0-9a-f]{8}$/);
  });
});
