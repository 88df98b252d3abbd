{
  "targets": [
    {
      "target_name": "cudnn_resnet",
      "sources": [
        "native/core/tensor.cpp",
        "native/core/backend.cpp",
        "native/cpu/parallel.cpp",
        "native/cpu/memory.cpp",
        "native/cpu/gemm.cpp",
        "native/cpu/elementwise.cpp",
        "native/cpu/conv.cpp",
        "native/cpu/linear.cpp",
        "native/cpu/batchnorm.cpp",
        "native/cpu/pooling.cpp",
        "native/cpu/loss.cpp",
        "native/cpu/sgd.cpp",
        "native/cpu/loss_scale.cpp",
        "native/cpu/fill.cpp",
        "native/cpu/reduce.cpp",
        "native/cpu/shortcut.cpp",
        "native/cpu/augment.cpp",
        "native/bindings/addon.cpp",
        "native/bindings/args.cpp",
        "native/bindings/tensor_handle.cpp",
        "native/bindings/tensor_binding.cpp",
        "native/bindings/elementwise_binding.cpp",
        "native/bindings/conv_binding.cpp",
        "native/bindings/batchnorm_binding.cpp",
        "native/bindings/pooling_binding.cpp",
        "native/bindings/linear_binding.cpp",
        "native/bindings/loss_binding.cpp",
        "native/bindings/sgd_binding.cpp",
        "native/bindings/loss_scale_binding.cpp",
        "native/bindings/fill_binding.cpp",
        "native/bindings/reduce_binding.cpp",
        "native/bindings/shortcut_binding.cpp",
        "native/bindings/augment_binding.cpp",
        "native/bindings/cuda_binding.cpp"
      ],
      "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")"],
      "defines": ["NAPI_VERSION=8", "NAPI_CPP_EXCEPTIONS", "NODE_ADDON_API_DISABLE_DEPRECATED", "CR_VERSION=\"<!(node -p \"require('./package.json').version\")\""],
      "cflags!": ["-fno-exceptions"],
      "cflags_cc!": ["-fno-exceptions"],
      "cflags_cc": ["-std=c++17", "-O3", "-fexceptions", "-fvisibility=hidden", "-ffp-contract=off"],
      "ldflags": ["-pthread"]
    }
  ]
}
