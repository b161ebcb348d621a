/**
 * Runs the service as it would be deployed, and puts it under load: one Redis, one daprd per
 * replica (from this folder's component files), three replicas of the app, a round-robin balancer
 * in front, the slow source behind, and autocannon sending reads (and 1 update in 100) over a
 * catalogue where a fifth of the items get four fifths of the reads. Then the same app uncached
 * (`CACHE=off`), under the same load and the same faults. Every answer is recorded and checked
 * (`checks.ts`); the report has the figures, a timeline per second, and the checks.
 *
 * `node dist/run.js [--chaos] [--seconds=N] [--sidecars=daprd|test] [--report=FILE] [--components=DIR]`: with `--chaos`,
 * Redis is stopped for 5 s then started again (empty), one daprd killed and restarted, and one
 * replica killed and started again, while the load goes on.
 */
import type { ChildProcess } from 'node:child_process'
import { fork } from 'node:child_process'
import * as fs from 'node:fs'
import { createServer } from 'node:net'
import type { AddressInfo } from 'node:net'
import { randomUUID } from 'node:crypto'
import * as path from 'node:path'
import { setTimeout as delay } from 'node:timers/promises'
import autocannon from 'autocannon'
import type { Daprd, TestSidecar } from 'dapr-state-cache/testing'
import { DaprdStartError, startDaprd, startTestSidecar } from 'dapr-state-cache/testing'
import type { Balancer } from './balancer.js'
import { startBalancer } from './balancer.js'
import type { Answer, CheckResult, FaultWindow } from './checks.js'
import { check } from './checks.js'
import type { Source } from './source.js'
import { startSource } from './source.js'

export interface RunOptions {
  /** Real daprd on a real Redis (default), or the library's test sidecars (no Redis, no daprd). */
  readonly sidecars?: 'daprd' | 'test' | undefined
  /** How long each load runs (default 30 s). */
  readonly seconds?: number | undefined
  readonly chaos?: boolean | undefined
  /** Concurrent connections of the load (default 32). */
  readonly connections?: number | undefined
  /** Items in the catalogue (default 500). */
  readonly items?: number | undefined
  readonly ttlSeconds?: number | undefined
  /** The folder of the component files (default: `components` beside this file's folder). */
  readonly componentsDir?: string | undefined
  /** The app's entry point (default: `app.js` beside this file). */
  readonly appPath?: string | undefined
  readonly log?: ((line: string) => void) | undefined
}

export interface Second {
  /** Seconds since the load began. */
  readonly t: number
  readonly requests: number
  readonly failed: number
  readonly p50Ms: number
  readonly p99Ms: number
  /** Hits over every call in this second (hits, misses, calls run uncached for a cache error), over the replicas; 0 uncached. */
  readonly hitRatio: number
  readonly sourceReads: number
}

export interface RunResult {
  readonly cached: boolean
  /** Requests the load generator saw fail without an answer (errors and timeouts). */
  readonly loadErrors: number
  /** When the load began (ms since the epoch): the timeline's 0, and the origin of the faults' times. */
  readonly startedAt: number
  readonly requestsPerSecond: number
  readonly p50Ms: number
  readonly p99Ms: number
  readonly hitRatio: number
  readonly checks: CheckResult
  readonly timeline: ReadonlyArray<Second>
  readonly faults: ReadonlyArray<FaultWindow>
}

export interface Report {
  readonly when: string
  readonly sidecars: 'daprd' | 'test'
  readonly chaos: boolean
  readonly seconds: number
  readonly connections: number
  readonly items: number
  readonly ttlSeconds: number
  readonly runs: ReadonlyArray<RunResult>
}

/** The options with their defaults. */
interface Resolved {
  readonly sidecars: 'daprd' | 'test'
  readonly seconds: number
  readonly chaos: boolean
  readonly connections: number
  readonly items: number
  readonly ttlSeconds: number
  readonly componentsDir: string
  readonly appPath: string
  readonly log: (line: string) => void
}

// The backplane's message to the other replicas, allowed this long; a replica that cannot hear the
// bus stops trusting its tier after suspectAfterMs (1.5 s in app.ts) plus a heartbeat (0.5 s), and
// a second more is allowed for it. The in-process tier's TTL in app.ts.
const GRACE_MS = 250
const FAULT_GRACE_MS = 1_500 + 500 + 1_000
const TIER_SECONDS = 5

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms))

const freePort = (): Promise<number> =>
  new Promise((resolve, reject) => {
    const server = createServer()
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as AddressInfo
      server.close(() => resolve(port))
    })
  })

/** The sidecars of the three replicas, and the faults they can suffer. */
interface Sidecars {
  readonly start: (index: number, httpPort: number, appPort: number) => Promise<void>
  readonly storeDown: () => Promise<void>
  readonly storeUp: () => Promise<void>
  readonly killSidecar: (index: number) => Promise<void>
  readonly restartSidecar: (index: number) => Promise<void>
  readonly close: () => Promise<void>
}

const daprdSidecars = (componentsDir: string): Sidecars => {
  const components = fs
    .readdirSync(componentsDir)
    .filter((file) => file.endsWith('.yaml'))
    .map((file) => fs.readFileSync(path.join(componentsDir, file), 'utf8'))
  const daprds: Array<Daprd> = []
  let owner: Daprd | undefined
  return {
    start: async (index, httpPort, appPort) => {
      const redisHost = owner?.redis?.host
      const daprd = await startDaprd({ flavour: 'redis', appId: 'catalog', httpPort, appPort, components, ...(redisHost === undefined ? {} : { redisHost }) })
      owner ??= daprd
      daprds[index] = daprd
    },
    storeDown: async () => owner?.redis?.stop(),
    storeUp: async () => owner?.redis?.start(),
    killSidecar: async (index) => daprds[index]?.kill(),
    restartSidecar: async (index) => daprds[index]?.restart(),
    close: async () => {
      // The Redis owner last: the others' components point at its Redis. Each closed, whatever the others do.
      for (const daprd of [...daprds].reverse()) await daprd.close().catch(() => undefined)
    },
  }
}

const testSidecars = (): Sidecars => {
  const sidecars: Array<TestSidecar> = []
  const faults: Array<{ remove: () => void }> = []
  const down = new Map<number, Array<{ remove: () => void }>>()
  return {
    start: async (index, httpPort, appPort) => {
      const first = sidecars[0]
      sidecars[index] = await startTestSidecar({ port: httpPort, appPort, appId: 'catalog', pubsubs: ['pubsub'], ...(first === undefined ? {} : { replicaOf: first }) })
    },
    // The state they share fails on every sidecar, as a Redis down would make it.
    storeDown: () => {
      for (const sidecar of sidecars) for (const route of ['get', 'save', 'delete', 'bulk', 'transaction'] as const) faults.push(sidecar.fault({ route, kind: 'status', status: 500 }))
      return Promise.resolve()
    },
    storeUp: () => {
      for (const fault of faults.splice(0)) fault.remove()
      sidecars[0]?.state('cache').clear()
      return Promise.resolve()
    },
    killSidecar: (index) => {
      down.set(index, [sidecars[index]?.fault({ kind: 'reset' })].filter((fault) => fault !== undefined))
      return Promise.resolve()
    },
    restartSidecar: (index) => {
      for (const fault of down.get(index) ?? []) fault.remove()
      return Promise.resolve()
    },
    close: async () => {
      for (const sidecar of [...sidecars].reverse()) await sidecar.close().catch(() => undefined)
    },
  }
}

interface App {
  child: ChildProcess
  readonly port: number
  readonly stats: () => Promise<{ hits: number; misses: number; errors: number; trusted: boolean | undefined }>
}

const startApp = (appPath: string, env: Record<string, string>, log: (line: string) => void): Promise<ChildProcess> =>
  new Promise((resolve, reject) => {
    const child = fork(appPath, [], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe', 'ipc'] })
    const lines = (chunk: Buffer) => {
      for (const line of chunk.toString().split('\n')) if (line.trim() !== '') log(line)
    }
    child.stdout?.on('data', lines)
    child.stderr?.on('data', lines)
    const timer = setTimeout(() => {
      child.kill('SIGKILL')
      reject(new Error(`the app ${env['REPLICA'] ?? ''} did not start within 20 s`))
    }, 20_000)
    child.once('message', () => {
      clearTimeout(timer)
      resolve(child)
    })
    child.once('exit', (code) => {
      clearTimeout(timer)
      reject(new Error(`the app ${env['REPLICA'] ?? ''} exited with ${String(code)} during start`))
    })
  })

/** Hits, misses and calls run uncached (a cache error), summed over the replicas. */
interface Counts {
  readonly t: number
  readonly hits: number
  readonly misses: number
  readonly errors: number
}

const sum = (all: ReadonlyArray<Omit<Counts, 't'>>): Omit<Counts, 't'> => ({
  hits: all.reduce((total, s) => total + s.hits, 0),
  misses: all.reduce((total, s) => total + s.misses, 0),
  errors: all.reduce((total, s) => total + s.errors, 0),
})

/** The share of calls the cache answered: hits over every call (hits, misses, and calls a cache error made run uncached). */
const ratio = (counts: Omit<Counts, 't'>): number => {
  const calls = counts.hits + counts.misses + counts.errors
  return calls === 0 ? 0 : counts.hits / calls
}

const percentile = (sorted: ReadonlyArray<number>, p: number): number => sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))] ?? 0

/** One load: the replicas (cached or not) behind the balancer, the faults on their schedule. */
const runOnce = async (cached: boolean, options: Resolved): Promise<RunResult> => {
  const { log, seconds } = options
  const source: Source = await startSource()
  const sidecars = options.sidecars === 'daprd' ? daprdSidecars(options.componentsDir) : testSidecars()
  const apps: Array<App> = []
  let balancer: Balancer | undefined
  const faults: Array<FaultWindow> = []
  // Stops the stats' poller and the fault schedule however the run ends.
  const stopping = new AbortController()
  let poller: ReturnType<typeof setInterval> | undefined
  let schedule: Promise<unknown> = Promise.resolve()
  try {
    const ports = await Promise.all(Array.from({ length: 6 }, freePort))
    const envOf = (index: number): Record<string, string> => ({
      PORT: String(ports[index * 2 + 1]),
      DAPR_HTTP_PORT: String(ports[index * 2]),
      SOURCE_URL: source.url,
      CACHE: cached ? 'on' : 'off',
      TTL_SECONDS: String(options.ttlSeconds),
      REPLICA: `replica-${index + 1}`,
    })
    for (const index of [0, 1, 2]) {
      const port = ports[index * 2 + 1] ?? 0
      const child = await startApp(options.appPath, envOf(index), log)
      const stats = async () => {
        try {
          const answer = (await (await fetch(`http://127.0.0.1:${port}/stats`, { signal: AbortSignal.timeout(1_000) })).json()) as {
            stats: { hits: number; misses: number; errors: number }
            bus?: { trusted: boolean }
          }
          return { hits: answer.stats.hits, misses: answer.stats.misses, errors: answer.stats.errors, trusted: answer.bus?.trusted }
        } catch {
          return { hits: 0, misses: 0, errors: 0, trusted: false }
        }
      }
      apps.push({ child, port, stats })
    }
    for (const index of [0, 1, 2]) await sidecars.start(index, ports[index * 2] ?? 0, ports[index * 2 + 1] ?? 0)
    if (cached) {
      // Every replica hears its own heartbeat back before the load: the bus works end to end.
      const deadline = Date.now() + 30_000
      while (!(await Promise.all(apps.map((app) => app.stats()))).every((stats) => stats.trusted === true)) {
        if (Date.now() > deadline) throw new Error('the replicas did not hear their own heartbeats within 30 s')
        await sleep(100)
      }
    }
    balancer = await startBalancer(apps.map((app) => `http://127.0.0.1:${app.port}`))

    const answers: Array<Answer> = []
    const started = Date.now()
    const hot = Math.max(1, Math.floor(options.items / 5))
    const pickId = (): number => (Math.random() < 0.8 ? Math.floor(Math.random() * hot) : hot + Math.floor(Math.random() * (options.items - hot)))
    // Hits and misses per second, summed over the replicas.
    // A replica killed and started again counts from 0: its last figures are kept until it passes them.
    const latest = apps.map(() => ({ hits: 0, misses: 0, errors: 0 }))
    const counts: Array<Counts> = []
    poller = setInterval(() => {
      void Promise.all(apps.map((app) => app.stats())).then((all) => {
        all.forEach((stats, index) => {
          const seen = latest[index]
          if (seen !== undefined && stats.hits + stats.misses + stats.errors >= seen.hits + seen.misses + seen.errors) latest[index] = stats
        })
        counts.push({ t: (Date.now() - started) / 1000, ...sum(latest) })
      })
    }, 1_000)
    // A fault that could not be made (an app that did not start again) fails the run once the load is over.
    let scheduleFailed: unknown
    schedule = options.chaos
      ? chaos(seconds, sidecars, apps, options, envOf, faults, started, log, stopping.signal).catch((error: unknown) => {
          scheduleFailed = error
        })
      : Promise.resolve()
    const result = await autocannon({
      url: balancer.url,
      connections: options.connections,
      duration: seconds,
      requests: [
        {
          setupRequest: (request, context) => {
            const id = pickId()
            const method = Math.random() < 0.01 ? 'PUT' : 'GET'
            Object.assign(context, { id, method, started: Date.now() })
            // An update carries its id: sent again by the balancer, it is applied once.
            return { ...request, method, path: `/items/${id}`, ...(method === 'PUT' ? { headers: { ...request.headers, 'x-request-id': randomUUID() } } : {}) }
          },
          onResponse: (status, body, context) => {
            const { id, method, started: began } = context as { id: number; method: 'GET' | 'PUT'; started: number }
            let parsed: { version?: number; invalidated?: boolean; error?: string; replica?: string }
            try {
              parsed = JSON.parse(body) as typeof parsed
            } catch {
              parsed = { error: body.slice(0, 200) }
            }
            answers.push({ method, id, started: began, ended: Date.now(), status, version: parsed.version, invalidated: parsed.invalidated, error: parsed.error, replica: parsed.replica })
          },
        },
      ],
    })
    await schedule
    if (scheduleFailed !== undefined) throw scheduleFailed
    clearInterval(poller)
    const checks = check(answers, source.log(), faults, { ttlSeconds: options.ttlSeconds, tierSeconds: TIER_SECONDS, graceMs: GRACE_MS, faultGraceMs: FAULT_GRACE_MS })
    const timeline = perSecond(answers, counts, source, started, seconds)
    const latencies = answers.map((answer) => answer.ended - answer.started).sort((a, b) => a - b)
    const last = counts.at(-1)
    return {
      cached,
      loadErrors: result.errors + result.timeouts,
      startedAt: started,
      requestsPerSecond: result.requests.total / seconds,
      p50Ms: percentile(latencies, 0.5),
      p99Ms: percentile(latencies, 0.99),
      hitRatio: last === undefined ? 0 : ratio(last),
      checks,
      timeline,
      faults,
    }
  } finally {
    clearInterval(poller)
    stopping.abort()
    await schedule
    // Everything is stopped, whatever fails to stop.
    await Promise.allSettled([balancer?.close()])
    for (const app of apps) app.child.kill('SIGKILL')
    await Promise.allSettled([sidecars.close(), source.close()])
  }
}

/** The faults, while the load runs: Redis, then one daprd, then one replica. */
const chaos = async (
  seconds: number,
  sidecars: Sidecars,
  apps: Array<App>,
  options: Resolved,
  envOf: (index: number) => Record<string, string>,
  faults: Array<FaultWindow>,
  started: number,
  log: (line: string) => void,
  signal: AbortSignal,
): Promise<void> => {
  const at = async (fraction: number) => delay(Math.max(0, started + fraction * seconds * 1000 - Date.now()), undefined, { signal })
  const down = Math.min(5_000, (seconds * 1000) / 6)
  const window = async (kind: string, replicas: ReadonlyArray<string> | undefined, stop: () => Promise<void>, start: () => Promise<void>) => {
    const from = Date.now()
    log(`chaos: ${kind}`)
    await stop()
    try {
      await delay(down, undefined, { signal })
    } finally {
      // Brought back even when the run is stopping, so that its cleanup finds what it started.
      await start()
      faults.push({ kind, from, to: Date.now(), ...(replicas === undefined ? {} : { replicas }) })
      log(`chaos: ${kind}: back`)
    }
  }
  await at(0.15)
  await window('redis stopped', undefined, sidecars.storeDown, sidecars.storeUp)
  await at(0.45)
  await window('daprd of replica 2 killed', ['replica-2'], () => sidecars.killSidecar(1), () => sidecars.restartSidecar(1))
  await at(0.7)
  await window(
    'replica 3 killed',
    ['replica-3'],
    () => {
      apps[2]?.child.kill('SIGKILL')
      return Promise.resolve()
    },
    async () => {
      const app = apps[2]
      if (app !== undefined) app.child = await startApp(options.appPath, envOf(2), log)
    },
  )
}

const perSecond = (answers: ReadonlyArray<Answer>, counts: ReadonlyArray<Counts>, source: Source, started: number, seconds: number): ReadonlyArray<Second> => {
  const reads = source.log().reads
  return Array.from({ length: seconds }, (_, t) => {
    const from = started + t * 1000
    const inSecond = answers.filter((answer) => answer.ended >= from && answer.ended < from + 1000)
    const latencies = inSecond.map((answer) => answer.ended - answer.started).sort((a, b) => a - b)
    const now = counts.find((count) => count.t >= t + 1)
    const before = [...counts].reverse().find((count) => count.t < t + 1 - 0.5)
    const delta = { hits: (now?.hits ?? 0) - (before?.hits ?? 0), misses: (now?.misses ?? 0) - (before?.misses ?? 0), errors: (now?.errors ?? 0) - (before?.errors ?? 0) }
    return {
      t,
      requests: inSecond.length,
      failed: inSecond.filter((answer) => answer.status !== 200).length,
      p50Ms: percentile(latencies, 0.5),
      p99Ms: percentile(latencies, 0.99),
      hitRatio: ratio(delta),
      sourceReads: reads.filter((read) => read.at >= from && read.at < from + 1000).length,
    }
  })
}

/** The cached service, then the uncached one, under the same load (and faults): the report. */
export const runService = async (options: RunOptions = {}): Promise<Report> => {
  const resolved: Resolved = {
    sidecars: options.sidecars ?? 'daprd',
    seconds: options.seconds ?? 30,
    chaos: options.chaos ?? false,
    connections: options.connections ?? 32,
    items: options.items ?? 500,
    ttlSeconds: options.ttlSeconds ?? 10,
    componentsDir: options.componentsDir ?? path.join(__dirname, '..', 'components'),
    appPath: options.appPath ?? path.join(__dirname, 'app.js'),
    log: options.log ?? (() => undefined),
  }
  const runs = [await runOnce(true, resolved), await runOnce(false, resolved)]
  const { log: _log, componentsDir: _components, appPath: _app, ...shown } = resolved
  return { when: new Date().toISOString(), ...shown, runs }
}

const fmt = (n: number, digits = 0): string => n.toFixed(digits)

/** The report as a table for a terminal. */
export const summary = (report: Report): string => {
  const rows = report.runs.map((run) => {
    const c = run.checks
    return `| ${run.cached ? 'cached' : 'uncached'} | ${fmt(run.requestsPerSecond)} | ${fmt(run.p50Ms, 1)} | ${fmt(run.p99Ms, 1)} | ${run.cached ? `${fmt(run.hitRatio * 100, 1)}%` : '-'} | ${c.sourceReads} | ${c.failedReads + c.failedUpdates + run.loadErrors} | ${c.violations} |`
  })
  return [
    `${report.chaos ? 'Chaos' : 'Load'}: ${report.seconds} s, ${report.connections} connections, ${report.items} items, 1 update in 100 requests, ${report.sidecars === 'daprd' ? 'real daprd on Redis' : 'test sidecars'}`,
    '',
    '| app | requests/s | p50 ms | p99 ms | cache answered | source reads | failed | stale answers |',
    '| --- | --- | --- | --- | --- | --- | --- | --- |',
    ...rows,
  ].join('\n')
}

const main = async (): Promise<void> => {
  // Stopped from outside: exit, so that the sidecars and servers it started are stopped too.
  for (const signal of ['SIGTERM', 'SIGINT'] as const) process.once(signal, () => process.exit(130))
  const args = process.argv.slice(2)
  const value = (name: string): string | undefined => args.find((arg) => arg.startsWith(`--${name}=`))?.slice(name.length + 3)
  const chaosRun = args.includes('--chaos')
  const sidecars = value('sidecars') === 'test' ? 'test' : 'daprd'
  let report: Report
  try {
    const componentsDir = value('components')
    report = await runService({
      chaos: chaosRun,
      sidecars,
      seconds: Number(value('seconds') ?? (chaosRun ? 40 : 30)),
      ...(componentsDir === undefined ? {} : { componentsDir }),
      log: (line) => console.log(line),
    })
  } catch (error) {
    if (error instanceof DaprdStartError) {
      console.error(
        error.code === 'E_DAPRD_NOT_FOUND'
          ? `daprd is not built: run \`npm run dapr:build\` (it builds the pinned Dapr release with Go), or set DAPRD_PATH.\n${error.message}`
          : error.code === 'E_REDIS_START'
            ? `redis-server could not start: install it (Debian: \`apt-get install redis-server\`).\n${error.message}`
            : error.message,
      )
      process.exit(1)
    }
    throw error
  }
  const file = value('report') ?? path.join(process.cwd(), `service-${chaosRun ? 'chaos' : 'load'}-report.json`)
  fs.writeFileSync(file, `${JSON.stringify(report, null, 2)}\n`)
  console.log(`\n${summary(report)}\n\nThe report, with a timeline per second and the checks: ${file}`)
  // Failing when a rule was broken or a request failed: a script can rely on the exit code.
  if (report.runs.some((run) => run.checks.violations > 0 || run.checks.failedReads + run.checks.failedUpdates + run.loadErrors > 0)) process.exitCode = 1
}

if (require.main === module) void main()
