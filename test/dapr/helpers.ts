/**
 * Small real parts for the real-runtime suite: both Dapr components we test on, a raw HTTP client
 * for asserting exactly what daprd answers, and `redis-cli` for looking at what Redis holds.
 */
import { execFile } from 'node:child_process'
import { request } from 'undici'
import type { Daprd, Flavour } from '../../src/testing/index.js'

/** The components the test sidecar also has (its two flavours): the ones every suite runs on. */
export const flavours: ReadonlyArray<Extract<Flavour, 'in-memory' | 'redis'>> = ['in-memory', 'redis']

export interface RawAnswer {
  readonly status: number
  readonly headers: Readonly<Record<string, string | undefined>>
  readonly body: string
}

/** One HTTP request with nothing in between: what a client can observe of the answer. */
export const raw = async (
  base: string,
  method: 'GET' | 'POST' | 'PUT' | 'DELETE' | 'PATCH',
  path: string,
  body?: string,
  headers: Readonly<Record<string, string>> = {},
): Promise<RawAnswer> => {
  const response = await request(`${base}${path}`, {
    method,
    headers: { ...(body === undefined ? {} : { 'content-type': 'application/json' }), ...headers },
    body: body ?? null,
    headersTimeout: 10_000,
    bodyTimeout: 10_000,
  })
  const text = await response.body.text()
  const flat: Record<string, string | undefined> = {}
  for (const [name, value] of Object.entries(response.headers)) flat[name.toLowerCase()] = Array.isArray(value) ? value.join(', ') : value
  return { status: response.statusCode, headers: flat, body: text }
}

/** Runs `redis-cli -p PORT ...args` and gives its output, trimmed. */
export const redisCli = (port: number, ...args: ReadonlyArray<string>): Promise<string> =>
  new Promise((resolve, reject) => {
    execFile('redis-cli', ['-p', String(port), ...args], { timeout: 10_000 }, (error, stdout) => {
      if (error !== null) reject(new Error(`redis-cli ${args.join(' ')}: ${error.message}`))
      else resolve(stdout.trim())
    })
  })

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms))

/** True while a process with this pid exists. */
export const alive = (pid: number): boolean => {
  try {
    process.kill(pid, 0)
    return true
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM'
  }
}

/**
 * Starts `count` daprds at once. If one fails to start, those that did are closed before the error
 * is thrown: nothing keeps running, holding ports and CPU, through the files after this one.
 */
export const startMany = async (count: number, start: () => Promise<Daprd>): Promise<ReadonlyArray<Daprd>> => {
  const settled = await Promise.allSettled(Array.from({ length: count }, start))
  const failed = settled.find((one): one is PromiseRejectedResult => one.status === 'rejected')
  const started = settled.flatMap((one) => (one.status === 'fulfilled' ? [one.value] : []))
  if (failed === undefined) return started
  await Promise.allSettled(started.map((daprd) => daprd.close()))
  throw failed.reason
}
