"""Type stubs of the extension module (the Rust crate through PyO3)."""
from typing import Any, Dict, List, Literal, Optional, Sequence, Tuple, Union

import numpy as np
import numpy.typing as npt

_Rows = Union[npt.NDArray[np.float32], npt.NDArray[np.float64]]
_Scale = Literal["paper", "raw"]

class Kernel:
    """A zonal kernel on S^{d-1} (a Gegenbauer series)."""

    @staticmethod
    def heat(d: int, t: float) -> Kernel: ...
    @staticmethod
    def bandlimited(d: int, degree: int) -> Kernel: ...
    @staticmethod
    def from_weights(d: int, weights: Sequence[float]) -> Kernel: ...
    @staticmethod
    def susreg_induced(d: int) -> Kernel: ...
    @property
    def d(self) -> int: ...
    @property
    def degree(self) -> int: ...
    @property
    def weights(self) -> List[float]: ...
    @property
    def z(self) -> float: ...
    def eval(self, c: float) -> float: ...

class _Objective:
    def name(self) -> str: ...
    def loss(self, z: _Rows) -> float: ...
    def loss_and_grad(self, z: _Rows) -> Tuple[float, Any]:
        """The loss and the gradient: an array of ``z``'s shape and dtype."""
    def required_dim(self) -> Optional[int]:
        """The width the kernel fixes, or None where any width goes."""
    def on_sphere(self) -> bool:
        """Whether rows are normalised onto the sphere (a zero row is an error)."""
    def plan(self, d: int, norms: npt.NDArray[np.float64], gradient: bool) -> Dict[str, Any]:
        """What a device backend computes for the next call (sliced objectives
        draw the call's directions and advance their step)."""
    def needs_all_rows(self) -> bool:
        """Whether phase 1 of the shard protocol needs every rank's rows."""
    def shard_begin(
        self, z: _Rows, start: Optional[int] = None, end: Optional[int] = None
    ) -> Tuple[str, npt.NDArray[np.float64]]:
        """Phase 1 of the shard protocol: ``(kind, numbers)`` to exchange."""
    def shard_finish(
        self,
        z: _Rows,
        exchanged: npt.NDArray[np.float64],
        start: Optional[int] = None,
        end: Optional[int] = None,
    ) -> Tuple[float, Optional[float], Any]:
        """Phase 2: ``(share, loss or None, gradient of this rank's rows)``."""

class Mmd(_Objective):
    def __init__(self, kernel: Kernel, scale: _Scale = "paper") -> None: ...
    @staticmethod
    def heat(d: int, scale: _Scale = "paper") -> Mmd:
        """The paper's setting: the heat kernel at t = 5/d."""

class Ksd(_Objective):
    def __init__(self, kernel: Kernel, scale: _Scale = "paper") -> None: ...
    @staticmethod
    def heat(d: int, scale: _Scale = "paper") -> Ksd:
        """The paper's setting: the heat kernel at t = 5/d."""

class KdeKl(_Objective):
    def __init__(self, kernel: Kernel, scale: _Scale = "paper") -> None: ...
    @staticmethod
    def heat(d: int, scale: _Scale = "paper") -> KdeKl:
        """The paper's setting: the heat kernel at t = 2/d (the paper scale needs d >= 19)."""

class _Sliced(_Objective):
    step: int
    """Calls that have drawn directions so far; settable, to resume a run."""
    @property
    def seed(self) -> int: ...

class Sigreg(_Sliced):
    def __init__(
        self,
        slices: int = 256,
        seed: int = 0,
        t_max: float = 3.0,
        knots: int = 17,
        directions: Optional[npt.NDArray[np.float64]] = None,
        exact_target: None = None,
        step: int = 0,
    ) -> None: ...

class Susreg(_Sliced):
    def __init__(
        self,
        slices: int = 1024,
        seed: int = 0,
        t_max: float = 3.0,
        knots: int = 17,
        directions: Optional[npt.NDArray[np.float64]] = None,
        exact_target: Optional[bool] = None,
        step: int = 0,
    ) -> None: ...

class SigregIntegrated(_Objective):
    def __init__(self, t_max: float = 3.0, knots: int = 17, exact_target: None = None) -> None: ...

class SusregIntegrated(_Objective):
    def __init__(
        self, t_max: float = 3.0, knots: int = 17, exact_target: Optional[bool] = None
    ) -> None: ...

def _uniformity_test(
    name: str, z: _Rows, **params: Any
) -> Tuple[str, int, int, float, float, str, Dict[str, Any]]: ...
