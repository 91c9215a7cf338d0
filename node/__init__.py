"""hyperpeer node: the composition root.

Theory of operation:

1. ``load_config`` builds a frozen ``NodeConfig`` (defaults < file < flags).
2. ``run_node(config, task_status=...)`` opens a ``Node`` — wallet, ``LmdbStore``, the device
   ``Registry`` and the ``Resolver`` — and serves it over HTTP with hypercorn's trio worker.
3. A request becomes a *singleton* message (headers, body, ``path``, ``method``); ``parse`` turns it
   into a message sequence (HyperPATH); the resolver folds it through the devices; the reply is
   encoded (httpsig or JSON) and signed by the node wallet.
4. Every error the node raises derives from ``NodeError`` (see ``_errors``); device failures are
   ``devices.DeviceError``. Both carry the HTTP ``status`` the edge answers with.
"""

from __future__ import annotations

from ._config import HttpConfig as HttpConfig
from ._config import LimitsConfig as LimitsConfig
from ._config import NodeConfig as NodeConfig
from ._config import P2PConfig as P2PConfig
from ._config import StoreConfig as StoreConfig
from ._config import TrustConfig as TrustConfig
from ._config import load_config as load_config
from ._errors import BodyTooLarge as BodyTooLarge
from ._errors import ConfigError as ConfigError
from ._errors import HeadersTooLarge as HeadersTooLarge
from ._errors import NodeError as NodeError
from ._errors import PathError as PathError
from ._errors import RequestError as RequestError
from ._errors import SignatureRejected as SignatureRejected
from ._errors import StoreError as StoreError
from ._http import HttpApp as HttpApp
from ._hyperpath import As as As
from ._hyperpath import Element as Element
from ._hyperpath import PathLimits as PathLimits
from ._hyperpath import Resolve as Resolve
from ._hyperpath import parse as parse
from ._hyperpath import split_target as split_target
from ._node import BUILTIN_DEVICES as BUILTIN_DEVICES
from ._node import Node as Node
from ._node import NodeState as NodeState
from ._resolve import Outcome as Outcome
from ._resolve import Resolver as Resolver
from ._server import Running as Running
from ._server import run_node as run_node
from ._store import Index as Index
from ._store import LmdbStore as LmdbStore
from ._store import StoreStatistics as StoreStatistics

__all__ = [
    "BUILTIN_DEVICES",
    "As",
    "BodyTooLarge",
    "ConfigError",
    "Element",
    "HeadersTooLarge",
    "HttpApp",
    "HttpConfig",
    "Index",
    "LimitsConfig",
    "LmdbStore",
    "Node",
    "NodeConfig",
    "NodeError",
    "NodeState",
    "Outcome",
    "P2PConfig",
    "PathError",
    "PathLimits",
    "RequestError",
    "Resolve",
    "Resolver",
    "Running",
    "SignatureRejected",
    "StoreConfig",
    "StoreError",
    "StoreStatistics",
    "TrustConfig",
    "load_config",
    "parse",
    "run_node",
    "split_target",
]
