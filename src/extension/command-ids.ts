/**
 * Every command the extension registers, as plain data: the command table (commands.ts) must
 * have exactly these keys, and a unit test checks them against package.json's contributes.commands.
 */
export const COMMAND_IDS = [
  'robustness.attack',
  'robustness.curve',
  'robustness.evaluate',
  'robustness.runSpec',
  'robustness.trainSpec',
  'robustness.attackPath',
  'robustness.cancelRun',
  'robustness.openRun',
  'robustness.showLog',
  'robustness.refreshModels',
  'robustness.trainFromModel',
  'robustness.newTrainingRun',
  'robustness.stopRun',
  'robustness.resumeRun',
  'robustness.openTraining',
  'robustness.compareRuns',
  'robustness.compareEvaluations',
  'robustness.revealModel',
  'robustness.attackFinalModel',
  'robustness.deleteRun',
  'robustness.addExample',
  'robustness.openModel',
  'robustness.revealRunFolder',
  'robustness.rerun',
  'robustness.renameRun',
  'robustness.exportRun',
  'robustness.clusterStatus',
] as const;
export type CommandId = (typeof COMMAND_IDS)[number];
