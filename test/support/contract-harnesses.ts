import { type ContractHarness, sqlContractHarness } from './contract-harness.ts'
import { harnesses } from './harnesses.ts'

const only = process.env.BRIDGES?.split(',')

/**
 * Every built-in bridge for the contract suite: the SQL ones (test/support/harnesses.ts)
 * and the CSV bridge. `BRIDGES=csv,sqlite` narrows the list.
 */
export const contractHarnesses: ContractHarness[] = [
  ...harnesses.map(sqlContractHarness),
  ...(!only || only.includes('csv') ? [(await import('./csv-harness.ts')).csvHarness] : []),
]
