import { describe, expect, it } from 'vitest'
import { checkTaskOffline } from '../../src/engine/check-task.ts'
import { parseTaskFile } from '../../src/engine/task/index.ts'

// The offline part of `opensync check` (issue 10, item 13): SQL filters must be one condition.
const task = (bridge: string, filter: string) =>
  parseTaskFile(
    `subject: t
systems:
  crm: { bridge: ${bridge}, connection: { host: h, user: u, database: d } }
  erp: { bridge: sqlite, connection: { file: erp.db } }
pairs:
  - crm: { type: customers, filter: ${filter} }
    erp: { type: customers }
    fields: { email: email }
`,
    { env: {} },
  )

describe('checkTaskOffline', () => {
  for (const bridge of ['postgres', 'mysql', 'sqlite']) {
    it(`${bridge}: refuses what is not one condition, accepts conditions over any columns`, () => {
      for (const bad of [
        '{ sql: "1=1; DROP TABLE x" }',
        '{ sql: "id IN (SELECT id FROM other)" }',
        '{ sql: "zip = 1 -- and more" }',
        '{ sql: "zip = :zip" }',
      ]) {
        const problems = checkTaskOffline(task(bridge, bad))
        expect(problems, bad).toHaveLength(1)
        expect(problems[0]).toMatchObject({
          path: 'pairs[0].crm.filter',
          code: 'OSY_INVALID_FILTER',
        })
      }
      for (const good of [
        `{ sql: "zip1 = '76137' AND (country IN ('DE', 'AT') OR town IS NULL)" }`,
        '{ sql: "zip = :zip", parameters: { zip: "76137" } }',
        '{ keyValue: { active: true } }',
      ])
        expect(checkTaskOffline(task(bridge, good)), good).toEqual([])
    })
  }
})
