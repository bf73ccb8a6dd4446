// The TypeScript client of Personvern; docs/integrate.md walks through wiring an app.
export * from "./client.js";
export * from "./errors.js";
export * from "./callbacks.js";
export type { components, paths } from "./schema.js";
