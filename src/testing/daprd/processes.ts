/**
 * The child processes `startDaprd` runs: free loopback ports for their listeners, their last lines
 * of output for error messages, stopping them, and killing any still running when the process exits.
 */
import type { ChildProcess } from 'node:child_process'
import { createServer } from 'node:net'
import { DaprdStartError } from './model.js'

// -------------------------------------------------------------------------------------
// processes
// -------------------------------------------------------------------------------------

/** Children still running, killed if the process exits without closing them. */
const running = new Set<ChildProcess>()
let exitHookInstalled = false
export const track = (child: ChildProcess): void => {
  if (!exitHookInstalled) {
    exitHookInstalled = true
    process.once('exit', () => {
      for (const orphan of running) orphan.kill('SIGKILL')
    })
  }
  running.add(child)
  child.once('exit', () => running.delete(child))
}

/** A loopback port that was free a moment ago, and the listener that holds it until `release`. */
const holdPort = (): Promise<{ readonly port: number; readonly release: () => Promise<void> }> =>
  new Promise((resolve, reject) => {
    const server = createServer()
    server.unref()
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const address = server.address()
      const port = typeof address === 'object' && address !== null ? address.port : 0
      resolve({ port, release: () => new Promise((done) => server.close(() => done())) })
    })
  })

/**
 * `count` free loopback ports, all different: each is held until all are found (a port released at
 * once can be handed out again by the next probe, and daprd cannot listen twice on one port).
 */
export const freePorts = async (count: number): Promise<ReadonlyArray<number>> => {
  const held = []
  try {
    for (let i = 0; i < count; i++) held.push(await holdPort())
    return held.map(({ port }) => port)
  } finally {
    await Promise.all(held.map(({ release }) => release()))
  }
}

export const freePort = async (): Promise<number> => (await freePorts(1))[0] as number

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms))

/** The last lines a child printed, for error messages. */
export const tail = (child: ChildProcess, limit = 40): (() => string) => {
  const lines: Array<string> = []
  const take = (chunk: Buffer): void => {
    for (const line of chunk.toString('utf8').split('\n')) {
      if (line.trim() === '') continue
      lines.push(line)
      if (lines.length > limit) lines.shift()
    }
  }
  child.stdout?.on('data', take)
  child.stderr?.on('data', take)
  return () => lines.join('\n')
}

export const exited = (child: ChildProcess): Promise<void> =>
  child.exitCode !== null || child.signalCode !== null ? Promise.resolve() : new Promise((resolve) => child.once('exit', () => resolve()))

/** SIGTERM, then SIGKILL after `graceMs`; resolves when the child is gone. */
export const stop = async (child: ChildProcess, graceMs: number): Promise<void> => {
  if (child.exitCode !== null || child.signalCode !== null) return
  child.kill('SIGTERM')
  const timer = setTimeout(() => child.kill('SIGKILL'), graceMs)
  await exited(child)
  clearTimeout(timer)
}

/** How `started` waits for a server it spawned, and what its errors say. */
export interface Readiness {
  /** The error code of every failure (`E_REDIS_START`, ...). */
  readonly code: DaprdStartError['code']
  /** The server, as the messages name it. */
  readonly name: string
  /** What to do when it cannot be run at all (install it, ...). */
  readonly hint: string
  /** Whether it is ready now, given what it printed so far. */
  readonly ready: (printed: string) => boolean | Promise<boolean>
  /** What it did not do in time, e.g. `answer PING on port 6379`. */
  readonly awaited: string
  readonly timeoutMs: number
  readonly pollMs?: number | undefined
  readonly graceMs?: number | undefined
}

/**
 * Tracks a server just spawned and resolves with it once ready; a `DaprdStartError` when it cannot
 * be run, exits during start (with its last lines), or is not ready in time (then it is stopped).
 */
export const started = async (child: ChildProcess, readiness: Readiness): Promise<ChildProcess> => {
  const { code, name, timeoutMs } = readiness
  track(child)
  const printed = tail(child)
  const spawnError = new Promise<Error>((resolve) => child.once('error', resolve))
  const deadline = Date.now() + timeoutMs
  while (Date.now() < deadline) {
    const failed = await Promise.race([spawnError, sleep(readiness.pollMs ?? 100).then(() => undefined)])
    if (failed !== undefined) throw new DaprdStartError(code, `startDaprd: could not run ${name}: ${failed.message} (${readiness.hint})`)
    if (child.exitCode !== null) throw new DaprdStartError(code, `startDaprd: ${name} exited with code ${child.exitCode} during start:\n${printed()}`)
    if (await readiness.ready(printed())) return child
  }
  await stop(child, readiness.graceMs ?? 2000)
  throw new DaprdStartError(code, `startDaprd: ${name} did not ${readiness.awaited} within ${timeoutMs} ms:\n${printed()}`)
}
