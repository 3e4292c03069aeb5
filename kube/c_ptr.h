// Ownership of what a C library allocates (OpenSSL, hiredis, libc), in one style:
// CPtr<X509, X509_free> is a unique_ptr that frees with X509_free. Shared ownership starts
// from one too: std::shared_ptr<X509>(CPtr<X509, X509_free>(p)), which keeps its deleter
// and is empty when p is null.
#pragma once

#include <memory>

namespace governor::kube {

// A deleter calling the C library's `Free`.
template <auto Free>
struct FreeWith {
  template <class T>
  void operator()(T* p) const {
    Free(p);
  }
};

template <class T, auto Free>
using CPtr = std::unique_ptr<T, FreeWith<Free>>;

}  // namespace governor::kube
