/**
 * Where `startDaprd` finds the daprd binary: the option, `DAPRD_PATH`, `dapr init`'s install, then
 * the newest build `npm run dapr:build` cached for the pinned release.
 */
import * as fs from 'node:fs'
import * as os from 'node:os'
import * as path from 'node:path'
import { DAPR_VERSION, DaprdStartError } from './model.js'

// -------------------------------------------------------------------------------------
// finding daprd
// -------------------------------------------------------------------------------------

const home = (env: NodeJS.ProcessEnv): string => env['HOME'] || os.homedir()

/** Where builds are cached outside the clone: `DAPR_STATE_CACHE_HOME`, else the user's cache folder. */
export const cacheRoot = (env: NodeJS.ProcessEnv): string =>
  env['DAPR_STATE_CACHE_HOME'] || path.join(env['XDG_CACHE_HOME'] || path.join(home(env), '.cache'), 'dapr-state-cache')

/** The newest binary `npm run dapr:build` made for the pinned release, if any. */
const builtDaprd = (env: NodeJS.ProcessEnv): string | undefined => {
  const dir = path.join(cacheRoot(env), 'daprd')
  let candidates: Array<{ file: string; mtime: number }>
  try {
    candidates = fs
      .readdirSync(dir)
      .filter((name) => name.startsWith(`${DAPR_VERSION}-`))
      .map((name) => path.join(dir, name, 'daprd'))
      .filter((file) => fs.existsSync(file))
      .map((file) => ({ file, mtime: fs.statSync(file).mtimeMs }))
  } catch {
    return undefined
  }
  candidates.sort((a, b) => b.mtime - a.mtime)
  return candidates[0]?.file
}

/**
 * Where `startDaprd` looks for daprd, in order, and what it finds there.
 *
 * @category utils
 * @since 0.2.0
 */
export const daprdCandidates = (env: NodeJS.ProcessEnv = process.env): ReadonlyArray<{ readonly place: string; readonly path: string | undefined }> => [
  { place: 'the DAPRD_PATH environment variable', path: env['DAPRD_PATH'] || undefined },
  { place: '~/.dapr/bin/daprd (dapr init)', path: path.join(home(env), '.dapr', 'bin', 'daprd') },
  { place: `the npm run dapr:build cache (${path.join(cacheRoot(env), 'daprd', `${DAPR_VERSION}-*`)})`, path: builtDaprd(env) },
]

const isExecutable = (file: string): boolean => {
  try {
    fs.accessSync(file, fs.constants.X_OK)
    return fs.statSync(file).isFile()
  } catch {
    return false
  }
}

export const findDaprd = (explicit: string | undefined): string => {
  if (explicit !== undefined) {
    if (isExecutable(explicit)) return explicit
    throw new DaprdStartError('E_DAPRD_NOT_FOUND', `startDaprd: daprdPath ${JSON.stringify(explicit)} is not an executable file`)
  }
  const candidates = daprdCandidates()
  const found = candidates.find((candidate) => candidate.path !== undefined && isExecutable(candidate.path))
  if (found?.path !== undefined) return found.path
  const looked = candidates.map((candidate) => `  - ${candidate.place}${candidate.path === undefined ? '' : `: ${candidate.path}`}`).join('\n')
  throw new DaprdStartError(
    'E_DAPRD_NOT_FOUND',
    `startDaprd: no daprd binary found. Looked in:\n${looked}\nRun \`npm run dapr:build\` in a clone of dapr-state-cache, or \`dapr init\`, or set DAPRD_PATH.`,
  )
}
