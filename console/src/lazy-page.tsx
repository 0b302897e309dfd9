import { type ComponentType, lazy, useState } from 'react'

/** A page loaded when first opened, that can be asked to load before it is drawn. */
export interface LazyPage<P extends object> {
  (props: P): React.JSX.Element
  /** Starts loading the page; once loaded, it draws without suspending. */
  preload(): void
}

/**
 * A lazily loaded page. React's `lazy` suspends on the first draw even when the module is
 * already there, and React reveals suspended content no sooner than 300 ms after its
 * fallback: a page opened straight from its address (a reload, a link) waited for that.
 * Preloaded while the session is read, the page draws at once.
 */
export function lazyPage<P extends object>(load: () => Promise<ComponentType<P>>): LazyPage<P> {
  let loaded: ComponentType<P> | undefined
  let loading: Promise<ComponentType<P>> | undefined
  const start = () => {
    loading ??= load().then((component) => {
      loaded = component
      return component
    })
    return loading
  }
  const Lazy = lazy(async () => ({ default: await start() }))
  // Made once per page at module level, not per draw, so React sees one component.
  // biome-ignore lint/correctness/noComponentHookFactories: called once per page, at module level
  const Page = (props: P) => {
    // Chosen once per mount: switching from Lazy to the module later would remount the page.
    const [Component] = useState(() => loaded ?? Lazy)
    return <Component {...props} />
  }
  Page.preload = () => void start().catch(() => undefined)
  return Page
}
