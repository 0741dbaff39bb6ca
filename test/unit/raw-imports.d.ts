/** Vite's `?raw` suffix imports a file's text (used to compare docs with what the code generates). */
declare module '*?raw' {
  const text: string;
  export default text;
}
