"""SynthCity: a seeded, procedural street-scene dataset in the exact Cityscapes layout.

Each frame is a straight street seen from a car-mounted camera (pinhole model:
horizon row, vanishing point, camera height), painted back to front:

* stuff -- sky, road with lane markings (+ parking strips), sidewalk tiles,
  terrain, building facades with window grids, low walls, fences, trees and
  hedges (vegetation), poles carrying traffic signs and traffic lights, a few
  *static* objects (void label 4) on the sidewalk;
* things -- the eight Cityscapes instance classes: cars in lanes and parked in
  touching rows, trucks, buses, trams (train), motorcycles and bicycles (with
  and without riders), pedestrians alone and in touching groups;
* crowd regions -- far clusters of cars / people written as one region with
  instance value = label id, as real Cityscapes does for "car group";
* void -- ego-vehicle hood (1), rectification border (2), out-of-roi rows (3).

The cases the SSAP paper is about are placed on purpose: large near objects
(buses, trucks, crossing trams: long-range affinity), cars split into
non-adjacent parts by an occluder standing in front of them (pole, pedestrian,
cyclist), touching instances of one class (parked rows, groups of people,
bicycle racks) and small far objects near the horizon. Colours of different
classes overlap on purpose (grey cars / grey walls / grey road, green cars /
vegetation); every surface carries noise texture, and the frame gets a lighting
gradient, haze, blur and sensor noise, so a network has to learn shape and
context rather than threshold colours.

Files (``<stem> = <city>_<seq:06d>_000019``)::

    leftImg8bit/<split>/<city>/<stem>_leftImg8bit.png          RGB uint8
    gtFine/<split>/<city>/<stem>_gtFine_labelIds.png           uint8, Cityscapes label ids
    gtFine/<split>/<city>/<stem>_gtFine_instanceIds.png        uint16, labelId*1000+k for
                                                               thing instances, labelId elsewhere
    gtFine/<split>/<city>/<stem>_gtFine_color.png              RGBA, Cityscapes label colours
    synthcity_manifest.json                                    arguments + summary, written last

Generation is deterministic: frame ``i`` of split ``s`` draws from its own
``SeedSequence(seed, spawn_key=(split_code, i))`` (noise textures are crops of a
bank made from a fixed seed), so the bytes of every PNG depend only on the
arguments and ``GENERATOR_VERSION``, never on the number of worker processes or
on how many other frames are made. See docs/SYNTHCITY.md.

Modules, from pixels up to the dataset:

* :mod:`.appearance` -- noise bank, :class:`Style`, colour samplers, distance haze;
* :mod:`.canvas` -- :class:`Canvas` (label / instance / style maps -> image), the rasteriser;
* :mod:`.geometry` -- :class:`Camera`; boxes and sprites projected to pixel polygons;
* :mod:`.objects` -- vehicles, people, cyclists, crowd groups, poles, trees, panels, props;
* :mod:`.street` -- :class:`Street` layout, background layers, object placement;
* :mod:`.frame` -- :func:`render_frame`: one frame's image, labelIds and instanceIds;
* :mod:`.stats` -- :func:`frame_statistics` and the dataset summary;
* :mod:`.writer` -- file names, manifest, :func:`generate_synthcity`, :func:`remove_synthcity`.

Importing this package never imports mxnet: the generator's spawned workers
import it, and mxnet would cost each of them seconds for nothing.
"""
from .frame import compact_instance_ids, render_frame
from .stats import frame_statistics
from .writer import (CITIES, GENERATOR_VERSION, MANIFEST_NAME, SynthCityDirectoryError,
                     frame_rng, frame_stem, generate_synthcity, read_manifest, remove_synthcity)

__all__ = ["generate_synthcity", "remove_synthcity", "read_manifest", "render_frame",
           "frame_statistics", "compact_instance_ids", "frame_rng", "frame_stem",
           "SynthCityDirectoryError", "CITIES", "MANIFEST_NAME", "GENERATOR_VERSION"]
