import { type CSSVariablesResolver, createTheme } from '@mantine/core'

/** The console's theme: Mantine's defaults with a darker primary shade, for AA contrast. */
export const theme = createTheme({
  primaryColor: 'indigo',
  primaryShade: 8,
  defaultRadius: 'sm',
  // Modals and menus appear at once for people who ask their system for less motion.
  respectReducedMotion: true,
})

/** Dimmed text (descriptions, hints) dark enough for WCAG AA's 4.5:1 on white. */
export const cssVariables: CSSVariablesResolver = () => ({
  variables: {},
  light: { '--mantine-color-dimmed': 'var(--mantine-color-gray-7)' },
  dark: {},
})
