/**
 * The example service, short, on the test sidecars (seconds, no daprd, no Redis): three replica
 * processes with the tier, the lease, fail-safe, tags and the backplane, under load and under the
 * chaos schedule (the store failing, one sidecar resetting every connection, one replica killed).
 * Checked as `npm run example:chaos` checks it: no stale answer, no failed request, and the cache
 * reading the source a fraction as often as the uncached app. The full run on real daprd and Redis
 * is in test/dapr/service.test.ts.
 */
import { buildServiceExample, runServiceExample } from './serviceExample.js'

describe('the example service on the test sidecars', () => {
  it('under load and faults: every answer allowed by the rules, no request failed, the source spared', async () => {
    const app = buildServiceExample()
    const { report, output } = await runServiceExample(app, ['--chaos', '--sidecars=test', '--seconds=12'], 120_000)
    const [cached, uncached] = report.runs
    if (cached === undefined || uncached === undefined) throw new Error(`two runs expected:\n${output.slice(-2000)}`)
    expect(cached.checks.firstViolations).toEqual([])
    expect(cached.checks.violations).toBe(0)
    expect(cached.checks.firstFailures).toEqual([])
    expect(cached.checks.failedReads + cached.checks.failedUpdates + cached.loadErrors).toBe(0)
    expect(uncached.checks.firstFailures).toEqual([])
    expect(uncached.checks.failedReads + uncached.checks.failedUpdates + uncached.loadErrors).toBe(0)
    expect(cached.checks.reads).toBeGreaterThan(1_000)
    expect(cached.faults.map((fault) => fault.kind)).toEqual(['redis stopped', 'daprd of replica 2 killed', 'replica 3 killed'])
    // The cache answered most calls, and read the source far less often per request than the uncached app.
    expect(cached.hitRatio).toBeGreaterThan(0.5)
    expect(cached.checks.sourceReads / cached.checks.reads).toBeLessThan((uncached.checks.sourceReads / uncached.checks.reads) * 0.5)
    expect(cached.timeline).toHaveLength(12)
  }, 150_000)
})
