// `url` for the browser bundle: the WHATWG URL classes the browser has.

export const URL = globalThis.URL;
export const URLSearchParams = globalThis.URLSearchParams;
export default { URL, URLSearchParams };
