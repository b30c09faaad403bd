// The in-process coordinator core as a CoordinatorLink: the agent's loop against the real
// scheduling and journal logic without a gRPC server (unit tests, the lease benchmark).
import type { CoordinatorCore } from '../../../coordinator/src/core/coordinator-core.ts';
import type { CoordinatorLink, LeaseGrant } from './coordinator-link.ts';

export function coreLink(core: CoordinatorCore, ttlMs: number): CoordinatorLink {
  return {
    async acquireTrial(workerId) {
      const lease = await core.acquireTrial(workerId);
      if (!lease) return null;
      const grant: LeaseGrant = {
        leaseId: lease.leaseId,
        trialId: lease.trialId,
        experimentId: lease.experimentId,
        experimentName: core.getExperiment(lease.experimentId).name,
        attempt: lease.attempt,
        config: lease.config,
        seeds: lease.seeds,
        deadline: new Date(lease.deadline),
        ttlMs,
      };
      return grant;
    },
    async heartbeat(leaseId, progress) {
      const reply = core.heartbeat(leaseId, progress);
      return {
        cancel: reply.cancel,
        cancelReason: reply.ok ? (reply.cancel ? 'experiment cancelled' : '') : 'lease expired',
        leaseLost: !reply.ok,
        ...(reply.deadline !== undefined ? { deadline: new Date(reply.deadline) } : {}),
      };
    },
    async reportOutcome(leaseId, outcome) {
      const reply =
        outcome.status === 'completed'
          ? await core.completeTrial(leaseId, outcome.result)
          : outcome.status === 'failed'
            ? await core.failTrial(leaseId, outcome.error)
            : await core.releaseTrial(leaseId, outcome.reason);
      return { accepted: reply.accepted, reason: reply.reason ?? '' };
    },
  };
}
