// The addon's export table, one line per function: CR_BINDING(jsName, CppFunction), grouped
// by the <family>_binding.cpp that defines the function. Included (on purpose without an
// include guard) by ops.h, which declares every function, and by addon.cpp, which exports
// each under its JS name; lib/native.ts (NativeAddon) types the same names, and
// test/native.test.ts checks that the two agree.
#ifndef CR_BINDING
#error "define CR_BINDING(js_name, cpp_function) before including op_table.h"
#endif

// tensor_binding.cpp
CR_BINDING(empty, Empty)
CR_BINDING(full, Full)
CR_BINDING(fromTypedArray, FromTypedArray)
CR_BINDING(toDevice, ToDevice)
CR_BINDING(reshape, Reshape)
CR_BINDING(copyInto, CopyInto)
CR_BINDING(synchronize, Synchronize)
CR_BINDING(memoryStats, MemoryStats)
CR_BINDING(buildInfo, BuildInfo)
CR_BINDING(cpuThreadTimes, CpuThreadTimes)

// convert_binding.cpp
CR_BINDING(cast, Cast)
CR_BINDING(toLayout, ToLayout)
CR_BINDING(convert, Convert)

// conv_binding.cpp
CR_BINDING(conv2dForward, Conv2dForward)
CR_BINDING(conv2dBackwardData, Conv2dBackwardData)
CR_BINDING(conv2dBackwardFilter, Conv2dBackwardFilter)
CR_BINDING(conv2dBackwardBias, Conv2dBackwardBias)

// batchnorm_binding.cpp
CR_BINDING(batchNormForwardTraining, BatchNormForwardTraining)
CR_BINDING(batchNormForwardInference, BatchNormForwardInference)
CR_BINDING(batchNormBackward, BatchNormBackward)

// elementwise_binding.cpp
CR_BINDING(reluForward, ReluForward)
CR_BINDING(reluBackward, ReluBackward)
CR_BINDING(add, Add)
CR_BINDING(scale, Scale)
CR_BINDING(axpy, Axpy)

// pooling_binding.cpp
CR_BINDING(pool2dForward, Pool2dForward)
CR_BINDING(pool2dBackward, Pool2dBackward)

// linear_binding.cpp
CR_BINDING(linearForward, LinearForward)
CR_BINDING(linearBackwardData, LinearBackwardData)
CR_BINDING(linearBackwardWeight, LinearBackwardWeight)
CR_BINDING(linearBackwardBias, LinearBackwardBias)

// loss_binding.cpp
CR_BINDING(softmaxCrossEntropyForward, SoftmaxCrossEntropyForward)
CR_BINDING(softmaxCrossEntropyBackward, SoftmaxCrossEntropyBackward)

// sgd_binding.cpp
CR_BINDING(sgdUpdate, SgdUpdate)

// adamw_binding.cpp
CR_BINDING(adamwUpdate, AdamwUpdate)

// amp_binding.cpp
CR_BINDING(ampUnscale, AmpUnscale)
CR_BINDING(ampUpdateScale, AmpUpdateScale)

// fill_binding.cpp
CR_BINDING(fillConstant, FillConstant)
CR_BINDING(fillUniform, FillUniform)
CR_BINDING(fillNormal, FillNormal)
CR_BINDING(fillKaimingNormal, FillKaimingNormal)

// reduce_binding.cpp
CR_BINDING(sum, Sum)
CR_BINDING(l2Norms, L2Norms)

// tensor math: arith_binding.cpp, reduce_binding.cpp (axes), softmax_binding.cpp, index_binding.cpp
CR_BINDING(arithBinary, ArithBinary)
CR_BINDING(arithScalar, ArithScalar)
CR_BINDING(arithUnary, ArithUnary)
CR_BINDING(broadcastTo, BroadcastTo)
CR_BINDING(reduceAxes, ReduceAxes)
CR_BINDING(maxAxis, MaxAxis)
CR_BINDING(topk, Topk)
CR_BINDING(scatterAddAxis, ScatterAddAxis)
CR_BINDING(softmaxForward, SoftmaxForward)
CR_BINDING(softmaxBackward, SoftmaxBackward)
CR_BINDING(slice, Slice)
CR_BINDING(sliceBackward, SliceBackward)
CR_BINDING(indexSelect, IndexSelect)
CR_BINDING(indexSelectBackward, IndexSelectBackward)

// shortcut_binding.cpp
CR_BINDING(shortcutAForward, ShortcutAForward)
CR_BINDING(shortcutABackward, ShortcutABackward)

// jpeg_binding.cpp
CR_BINDING(jpegInfo, JpegInfo)
CR_BINDING(jpegDecode, JpegDecode)
CR_BINDING(resampleRgb, ResampleRgb)

// cuda_binding.cpp
CR_BINDING(cudaInfo, CudaInfo)
CR_BINDING(cudaMemoryStats, CudaMemoryStats)
CR_BINDING(cudaEmptyCache, CudaEmptyCache)
CR_BINDING(graphCaptureBegin, GraphCaptureBegin)
CR_BINDING(graphCaptureEnd, GraphCaptureEnd)
CR_BINDING(graphCaptureAbort, GraphCaptureAbort)
CR_BINDING(graphReplay, GraphReplay)
CR_BINDING(eventTimerStart, EventTimerStart)
CR_BINDING(eventTimerStop, EventTimerStop)

// augment_binding.cpp
CR_BINDING(augmentBatch, AugmentBatch)
CR_BINDING(gatherLabels, GatherLabels)
