// Before the real-runtime suite: make sure the pinned daprd is built (a no-op when it is) and that
// Redis is installed, and fail with the reason when either is missing. This suite never skips.
const { execFileSync } = require('node:child_process')
const path = require('node:path')
const buildForReplicas = require('../replicas/build.js')

module.exports = async () => {
  buildForReplicas()
  if (!process.env.DAPRD_PATH) {
    const script = path.join(__dirname, '..', '..', 'scripts', 'dapr-build.mjs')
    const out = execFileSync(process.execPath, [script], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] })
    process.env.DAPRD_PATH = out.split('\n')[0]
  }
  try {
    execFileSync('redis-server', ['--version'], { stdio: 'ignore' })
  } catch {
    throw new Error('the real-runtime suite needs redis-server on PATH (Debian: apt-get install redis-server)')
  }
}
