"""Generated run names (`adjective-animal-NNN`), for runs created without one."""

from __future__ import annotations

import random

_ADJECTIVES = (
    "amber bold brave bright calm clever crisp curious daring eager fast fierce gentle glad golden "
    "happy honest jolly keen kind lively lucky merry mighty nimble noble polite proud quick quiet "
    "rapid shy silent sleek smart snappy steady sunny swift tidy vivid warm wise witty zesty"
).split()
_ANIMALS = (
    "ant bat bear bee bison boar cat colt crab crow deer dove duck eel elk finch fox frog goat "
    "gull hare hawk heron ibis jay koala lark lemur lynx mole moth newt otter owl panda quail "
    "ram raven seal shrew skunk sloth snail swan tapir toad trout viper wasp whale wolf wren yak"
).split()


def generate_run_name(rng: random.Random | None = None) -> str:
    pick = rng or random
    return f"{pick.choice(_ADJECTIVES)}-{pick.choice(_ANIMALS)}-{pick.randint(0, 999)}"
