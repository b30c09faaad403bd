// jstat ships no types; declare the few distribution functions the report uses.
declare module 'jstat' {
  interface Continuous {
    cdf(x: number, ...params: number[]): number;
  }
  const jstat: {
    jStat: {
      studentt: Continuous;
      normal: Continuous;
      centralF: Continuous;
    };
  };
  export default jstat;
}
