import { createDemo, newsletterTask } from '/work/wt/demo-mp/src/cli/demo.ts'
import { createRegistry } from '/work/wt/demo-mp/src/bridges/index.ts'
import { stringify } from 'yaml'
const dir = '/tmp/trydemo'
createDemo(dir, 100, true)
const r = await newsletterTask(dir, await createRegistry(), 'http://127.0.0.1:1/mp/v1', { withSecret: false })
console.log(stringify(r.document).slice(0, 3000), r.env)
