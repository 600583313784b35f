/// <reference types="vite/client" />

interface ImportMetaEnv {
  /** The API's base URL (default: the page's own origin). */
  readonly VITE_API_BASE_URL?: string;
}
