"""hyperpeer devices.

`devices.core` is the ground floor: the pure AO-Core library (message model, ids, hashpaths,
commitments and codecs). It never imports trio, hypercorn or libp2p. The device modules beside it
implement AO-Core devices (`name@version`) behind one uniform interface.

This package's `__init__` imports nothing, so importing `devices.core` stays light.
"""
