import i18next from 'i18next'
import { initReactI18next } from 'react-i18next'
import { de } from './locales/de.ts'
import { en } from './locales/en.ts'

export const languages = ['en', 'de'] as const
export type Language = (typeof languages)[number]

const storageKey = 'opensync.language'

/** The language the user chose last, else the browser's when it is German, else English. */
function initialLanguage(): Language {
  const stored = localStorage.getItem(storageKey)
  if (stored === 'en' || stored === 'de') return stored
  return navigator.language.toLowerCase().startsWith('de') ? 'de' : 'en'
}

export function setUpI18n(): void {
  const lng = initialLanguage()
  document.documentElement.lang = lng
  void i18next.use(initReactI18next).init({
    resources: { en: { translation: en }, de: { translation: de } },
    lng,
    fallbackLng: 'en',
    interpolation: { escapeValue: false },
  })
}

export function setLanguage(lng: Language): void {
  localStorage.setItem(storageKey, lng)
  document.documentElement.lang = lng
  void i18next.changeLanguage(lng)
}
