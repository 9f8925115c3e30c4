// `backbones models list|info|pull|path`: the model zoo and the weights cache.
import type { Command } from 'commander';
import { addModelOptions, addTextOrJsonFormat } from './options.js';

export function registerModels(program: Command): void {
  const models = program
    .command('models')
    .summary('list the model zoo, show model cards and layers, pull weights')
    .description('The model zoo: cards, layers, and the weights cache.');

  const list = models
    .command('list')
    .description('table of every backbone: input, params, GMACs, feature layer, preprocessing, weights cached')
    .argument('[filter]', 'part of a name ("vgg", "mobile") or a glob ("mobilenet_v?")');
  addTextOrJsonFormat(list, 'table', { jsonAlias: true }).action(async (filter: string | undefined, _o: unknown, command: Command) => {
    const { runModelsList } = await import('../actions/models.js');
    process.exitCode = await runModelsList(filter, command.optsWithGlobals());
  });

  const info = models
    .command('info')
    .description('the model card of a zoo name, or what a model.json holds; --layers lists every layer and its output shape')
    .argument('<name|path>', 'zoo name or model.json path/URL')
    .option('--layers', 'list every layer name with its output shape (to choose extract --layer)');
  addTextOrJsonFormat(info, 'text', { jsonAlias: true });
  // Layers are listed from random weights: -w and --seed would change nothing here.
  addModelOptions(info, { model: false, weights: false });
  info.action(async (name: string, _o: unknown, command: Command) => {
    const { runModelsInfo } = await import('../actions/models.js');
    process.exitCode = await runModelsInfo(name, command.optsWithGlobals());
  });

  const pull = models
    .command('pull')
    .description('download and verify the imagenet weights of one or more backbones into the cache')
    .argument('<names...>', 'zoo names')
    .option('--no-top', 'the weights without the classifier head, where published');
  addTextOrJsonFormat(pull, 'text', { jsonAlias: true }).action(async (names: string[], _o: unknown, command: Command) => {
    const { runModelsPull } = await import('../actions/models.js');
    process.exitCode = await runModelsPull(names, command.optsWithGlobals());
  });

  const where = models.command('path').description('print the weights cache directory');
  addTextOrJsonFormat(where, 'text', { jsonAlias: true }).action(async (_o: unknown, command: Command) => {
    const { runModelsPath } = await import('../actions/models.js');
    process.exitCode = await runModelsPath(command.optsWithGlobals());
  });

  models.addHelpText(
    'after',
    `
Examples:
  $ backbones models list
  $ backbones models info resnet50 --layers | grep conv5
  $ backbones models pull vgg16 mobilenet
  $ backbones models list mobilenet --format json`,
  );
}
