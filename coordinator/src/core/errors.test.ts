import assert from 'node:assert/strict';
import { it } from 'node:test';
import { ConfigError } from '../../../trainer/src/config/trial-config.ts';
import { StateDirLockedError } from '../state/state-dir-lock.ts';
import { FailedPreconditionError, InternalError, InvalidArgumentError, NotFoundError, toCoordinatorError } from './errors.ts';

it('normalises anything thrown into a coded CoordinatorError, keeping the cause', () => {
  const notFound = new NotFoundError('no experiment x');
  assert.equal(toCoordinatorError(notFound), notFound);
  const config = new ConfigError('sweep.optimizer[1]', 'invalid option', 'spec.yaml');
  const invalid = toCoordinatorError(config);
  assert.ok(invalid instanceof InvalidArgumentError);
  assert.equal(invalid.code, 'invalid_argument');
  assert.equal(invalid.path, 'sweep.optimizer[1]');
  assert.equal(invalid.message, 'sweep.optimizer[1]: invalid option');
  assert.equal(invalid.cause, config);
  assert.ok(toCoordinatorError(new StateDirLockedError('busy')) instanceof FailedPreconditionError);
  const internal = toCoordinatorError(new TypeError('boom'));
  assert.ok(internal instanceof InternalError);
  assert.equal(internal.message, 'boom');
  assert.equal(toCoordinatorError('text').message, 'text');
});
