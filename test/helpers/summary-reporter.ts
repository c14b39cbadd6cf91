import Mocha from 'mocha';

/**
 * mocha's spec reporter, plus one plain closing line — "N passed, N failed, N skipped" — that CI and
 * people can read without knowing mocha's wording.
 */
class SummaryReporter extends Mocha.reporters.Spec {
  constructor(runner: Mocha.Runner, options?: Mocha.MochaOptions) {
    super(runner, options);
    runner.once(Mocha.Runner.constants.EVENT_RUN_END, () => {
      const s = runner.stats ?? { passes: 0, failures: 0, pending: 0 };
      // After the spec reporter's own epilogue, which it prints on the same event.
      process.nextTick(() => console.log(`\n${s.passes} passed, ${s.failures} failed, ${s.pending} skipped`));
    });
  }
}

export = SummaryReporter;
