// The ResNet family: models.create(name, options) and models.names().
export { ResNet, create, names, cifarResNet } from './resnet';
export type { ResNetConfig, ModelOptions, BlockKind } from './resnet';
export { BasicBlock, Bottleneck, PreActBlock, PreActBottleneck } from './blocks';
export type { ShortcutOption, BlockOptions } from './blocks';
