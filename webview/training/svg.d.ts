/** SVG files imported as text (esbuild's `with { type: 'text' }`). */
declare module '*.svg' {
  const text: string;
  export default text;
}
