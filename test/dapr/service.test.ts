/**
 * The example service in full on the real runtime: one Redis, a daprd per replica loaded from the
 * example's own component files, three replica processes, the load, and the chaos schedule (Redis
 * stopped for 5 s and started empty, one daprd killed and restarted, one replica killed and
 * started again). Held to the same checks as `npm run example:chaos`: no stale answer, no failed
 * request, the source read a fraction as often as by the uncached app, and after Redis came back
 * the cache refilled without a stampede.
 */
import { buildServiceExample, runServiceExample } from '../serviceExample.js'

describe('the example service on real daprd and Redis', () => {
  it('under load and faults: every answer allowed by the rules, no request failed, the source spared', async () => {
    const app = buildServiceExample()
    const { report, output } = await runServiceExample(app, ['--chaos', '--seconds=30'], 240_000)
    const [cached, uncached] = report.runs
    if (cached === undefined || uncached === undefined) throw new Error(`two runs expected:\n${output.slice(-2000)}`)
    expect(report.sidecars).toBe('daprd')
    expect(cached.checks.firstViolations).toEqual([])
    expect(cached.checks.violations).toBe(0)
    expect(cached.checks.firstFailures).toEqual([])
    expect(cached.checks.failedReads + cached.checks.failedUpdates + cached.loadErrors).toBe(0)
    expect(uncached.checks.firstFailures).toEqual([])
    expect(uncached.checks.failedReads + uncached.checks.failedUpdates + uncached.loadErrors).toBe(0)
    expect(cached.faults.map((fault) => fault.kind)).toEqual(['redis stopped', 'daprd of replica 2 killed', 'replica 3 killed'])
    expect(cached.hitRatio).toBeGreaterThan(0.5)
    expect(cached.checks.sourceReads / cached.checks.reads).toBeLessThan((uncached.checks.sourceReads / uncached.checks.reads) * 0.5)
    // Each fault's refill: most of the source's reads in the 5 s after it are of versions not read yet.
    for (const refill of cached.checks.refills) expect(refill.repeated).toBeLessThan(Math.max(50, refill.reads * 0.5))
  }, 300_000)
})
