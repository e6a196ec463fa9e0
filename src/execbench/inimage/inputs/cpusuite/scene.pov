// execbench 453.povray scene: reflective and refractive CSG objects over a checkered plane,
// procedural (noise-based) textures, three lights with shadows. No #include: runs with the
// bare POV-Ray 3.7 install. Rendered with +A (antialiasing) at a size chosen by the driver.
#version 3.7;
global_settings { assumed_gamma 1.0 max_trace_level 8 }
camera { location <0, 3.2, -9> look_at <0, 0.9, 0> angle 52 }
light_source { <-6, 10, -8> color rgb <1, 0.96, 0.9> }
light_source { <7, 6, -4> color rgb <0.4, 0.45, 0.6> }
light_source { <0, 12, 6> color rgb 0.3 }
sky_sphere { pigment { gradient y color_map { [0 color rgb <0.7, 0.8, 1>] [1 color rgb <0.1, 0.2, 0.6>] } } }
plane { y, 0
  texture { pigment { checker color rgb 0.9 color rgb <0.15, 0.2, 0.3> scale 1.2 }
            finish { reflection 0.15 specular 0.3 } } }
sphere { <-2.4, 1.1, 0.5>, 1.1
  texture { pigment { color rgb <0.9, 0.9, 1> } finish { reflection 0.8 specular 0.9 roughness 0.002 } } }
sphere { <0.2, 1.0, -1.2>, 1.0
  material { texture { pigment { color rgbf <0.95, 1, 0.95, 0.9> } finish { specular 0.8 reflection 0.1 } }
             interior { ior 1.5 } } }
difference {
  box { <-0.9, 0, -0.9>, <0.9, 1.8, 0.9> }
  sphere { <0, 0.9, 0>, 1.15 }
  cylinder { <0, -1, 0>, <0, 3, 0>, 0.45 }
  rotate y*35 translate <2.6, 0, 0.8>
  texture { pigment { granite color_map { [0 color rgb <0.8, 0.3, 0.2>] [0.5 color rgb <0.95, 0.8, 0.5>] [1 color rgb <0.3, 0.1, 0.05>] } scale 0.6 }
            normal { bumps 0.3 scale 0.15 } finish { specular 0.4 phong 0.3 } } }
torus { 0.9, 0.22 rotate x*70 translate <0.6, 0.5, 2.6>
  texture { pigment { marble turbulence 0.8 color_map { [0 color rgb <0.1, 0.5, 0.2>] [1 color rgb <0.9, 1, 0.9>] } }
            finish { reflection 0.3 specular 0.6 } } }
#declare I = 0;
#while (I < 12)
  sphere { <4.5 * cos(radians(I * 30)), 0.25, 4.5 * sin(radians(I * 30)) + 1.5>, 0.25
    texture { pigment { color rgb <mod(I, 3) / 2, mod(I + 1, 3) / 2, mod(I + 2, 3) / 2> } finish { reflection 0.4 specular 0.7 } } }
  #declare I = I + 1;
#end
