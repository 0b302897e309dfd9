import { createTheme } from '@mantine/core'

/** The console's theme: Mantine's defaults with a darker primary shade, for AA contrast. */
export const theme = createTheme({
  primaryColor: 'indigo',
  primaryShade: 8,
  defaultRadius: 'sm',
})
