declare module 'uvu/run' {
  export function run(suites: { name: string; file: string }[], opts?: { bail?: boolean }): Promise<void>
}
