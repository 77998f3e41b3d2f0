"""One traced ``tf.function`` per object (a model, a tokenizer), kept exactly as long as the object.

A cache keyed weakly by the object whose function closed over the object itself would keep every
object alive: each week of ``retrain serve`` (one process, month after month) would have added a
champion and a challenger, 90 MB each for MiniLM, that were never freed. The function here
reaches its owner through a weak reference, so dropping the owner drops both.

>>> import weakref
>>> class Owner:
...     scale = 2.0
>>> cache, owner = weakref.WeakKeyDictionary(), Owner()
>>> double = traced_for(cache, owner, lambda it, x: x * it.scale)
>>> float(double(3.0)), traced_for(cache, owner, lambda it, x: x) is double
(6.0, True)
>>> del owner, double
>>> len(cache)
0
"""

from __future__ import annotations

import weakref
from collections.abc import Callable
from functools import partial
from typing import Any, TypeVar

import tensorflow as tf

Owner = TypeVar("Owner")


def traced_for(cache: weakref.WeakKeyDictionary, owner: Owner, body: Callable[..., Any], **options: Any) -> Callable:
    """``tf.function`` of ``body(owner, *args)`` (``options`` as ``tf.function`` takes them), traced on
    first call, cached in ``cache`` under ``owner`` and held only as long as ``owner`` lives."""
    function = cache.get(owner)
    if function is None:
        # A partial, not a lambda: TensorFlow counts traces per code object, so every owner's one trace
        # through a shared lambda added up to its "triggered tf.function retracing" warning in a run
        # (the demo printed it) where no function ever traced twice.
        function = tf.function(partial(_call_with_owner, weakref.ref(owner), body), **options)
        cache[owner] = function
    return function


def _call_with_owner(reference: weakref.ref, body: Callable[..., Any], *args: Any) -> Any:
    return body(reference(), *args)
